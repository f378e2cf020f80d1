// The linear ops on CUDA: linear, linear_pair and silu_gated_linear.
//   BF16 activations, at most 8 rows (decode): the skinny tensor-core kernel, one launch for one projection,
//     for both projections of a pair, or for gate and up with silu(gate) * up formed in its epilogue. FP8
//     weights (always W8A8) quantize the input per 1x128 group first.
//   More rows: BF16 weights through one cuBLASLt GEMM; FP8 weights through cuBLASLt's block-scaled GEMM (token
//     rows padded to a multiple of 4, weight_scale_inv rows padded to a multiple of 4 blocks), or, for shapes
//     cuBLASLt rejects and for F32 output, the tiled tensor-core kernel of the MoE experts run as one group.
//     A pair runs as two GEMMs; the gated form as two GEMMs and silu_and_mul.
//   F32 input (the F32-activation mode): every product on the CUDA cores with float32 sums, so nothing is
//     rounded to BF16 and no FP8 sum to the tensor cores' shorter accumulator: FP8 weights through the experts'
//     F32 kernel (input quantized straight from F32), BF16 / F32 weights through the F32 GEMM.
#include "kernels/gemm/cublaslt_gemm.h"
#include "kernels/runtime/op_timing.h"
#include "kernels/runtime/scratch.h"
#include "kernels/sm90/gemm/float_gemm.h"
#include "kernels/sm90/gemm/skinny_gemm.h"
#include "kernels/sm90/moe/grouped_gemm.h"
#include "kernels/sm90/quant/fp8_group_quant.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/cuda_ops.h"
#include "ops/cuda/skinny_projection.h"

namespace dsinfer::ops::cuda {

namespace {

using dsinfer::cuda::kSkinnyMaxRows;
using dsinfer::cuda::ScratchSlot;
using dsinfer::cuda::scratch_as;

// weight_scale_inv [row_blocks, k_blocks] -> [row_blocks, padded_k_blocks] (padding left unset: never read).
__global__ void pad_weight_scales_kernel(const float* scales, int64_t row_blocks, int64_t k_blocks,
                                         int64_t padded_k_blocks, float* padded) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < row_blocks * k_blocks;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    padded[(i / k_blocks) * padded_k_blocks + i % k_blocks] = scales[i];
}

void check_fp8_blocks(const LinearWeight& weight) {
  DSINFER_CHECK(weight.block_rows == 128 && weight.block_cols == 128, "ops::linear on CUDA: FP8 weight blocks must be "
                "128x128 (DeepSeek's weight_block_size), got ", weight.block_rows, "x", weight.block_cols);
  DSINFER_CHECK(weight.in_features() % 16 == 0, "ops::linear on CUDA: FP8 weight ", weight.weight.describe(),
                " needs an input width that is a multiple of 16");
}

// The e4m3 codes and 1x128 group scales of `input` (BF16 or F32) in scratch: codes [padded_rows, k], scales
// [ceil(k / 128)][padded_rows], rows padded to a multiple of 4 (cuBLASLt's requirement) with zero codes.
struct QuantizedRows {
  uint8_t* codes;
  float* scales;
  int64_t padded_rows;
};

QuantizedRows quantize_rows(const Tensor& input, cudaStream_t stream) {
  const int64_t rows = input.dim(0), k = input.dim(1);
  QuantizedRows quantized;
  quantized.padded_rows = (rows + 3) / 4 * 4;
  quantized.codes = scratch_as<uint8_t>(ScratchSlot::kQuantizedActivations, quantized.padded_rows * k);
  quantized.scales = scratch_as<float>(ScratchSlot::kActivationScales, (k + 127) / 128 * quantized.padded_rows);
  dsinfer::cuda::quantize_fp8_groups(input.data(), input.dtype(), k, quantized.codes, quantized.scales, rows,
                                     quantized.padded_rows, k, stream);
  return quantized;
}

// Whether the skinny kernel takes this weight for `input`: BF16 activations, 1 to 8 rows, 16-byte weight rows.
bool skinny_applies(const Tensor& input, const LinearWeight& weight) {
  if (input.dtype() != DType::kBF16 || input.dim(0) == 0 || input.dim(0) > kSkinnyMaxRows) return false;
  if (weight.is_fp8()) return weight.block_rows == 128 && weight.block_cols == 128 && weight.in_features() % 16 == 0;
  return weight.weight.dtype() == DType::kBF16 && weight.in_features() % 8 == 0;
}

// One projection, two (second set), or the gated pair (gated: output = silu(first) * second) in one skinny launch.
void run_skinny(const Tensor& input, const LinearWeight& first, Tensor& first_output, const LinearWeight* second,
                Tensor* second_output, bool gated, cudaStream_t stream) {
  const bool fp8 = first.is_fp8();
  dsinfer::cuda::SkinnyGemmParams params{};
  params.k = first.in_features();
  params.rows = input.dim(0);
  if (fp8) {
    QuantizedRows quantized = quantize_rows(input, stream);
    params.a = quantized.codes;
    params.a_scales = quantized.scales;
    params.a_scales_stride = quantized.padded_rows;
  } else {
    params.a = input.data();
  }
  params.projections[0] =
      skinny_projection(first, first_output.data(), first_output.dtype() == DType::kF32);
  params.projection_count = 1;
  if (second != nullptr) {
    Tensor& second_target = gated ? first_output : *second_output;
    params.projections[1] =
        skinny_projection(*second, second_target.data(), second_target.dtype() == DType::kF32);
    params.projection_count = 2;
  }
  params.gated = gated;
  dsinfer::cuda::skinny_gemm(params, fp8, stream);
}

void linear_fp8(const Tensor& input, const LinearWeight& weight, Tensor& output, cudaStream_t stream) {
  check_fp8_blocks(weight);
  DSINFER_CHECK(output.dtype() == DType::kBF16 || output.dtype() == DType::kF32, "ops::linear on CUDA: output ",
                output.describe(), " of FP8 weight ", weight.weight.describe(), " must be BF16 or F32");
  const bool f32_output = output.dtype() == DType::kF32;
  const int64_t tokens = input.dim(0), k = input.dim(1), n = weight.out_features();
  const int64_t k_blocks = (k + 127) / 128, n_blocks = (n + 127) / 128;
  const QuantizedRows quantized = quantize_rows(input, stream);
  const float* weight_scales = weight.scale_inv.data_as<const float>();
  // The one-group form of the expert GEMM: the tiled tensor-core kernel and the F32 CUDA-core kernel take it.
  dsinfer::cuda::GroupedGemmParams one_group{};
  one_group.a = quantized.codes;
  one_group.a_scales = quantized.scales;
  one_group.a_scales_stride = quantized.padded_rows;
  one_group.weight0 = weight.weight.data();
  one_group.weight0_scales = weight_scales;
  one_group.experts = 1;
  one_group.rows = tokens;
  one_group.n = n;
  one_group.k = k;
  one_group.out = output.data();
  one_group.out_f32 = f32_output;
  if (input.dtype() == DType::kF32) {  // F32 activations: float32 sums, as the reference
    dsinfer::cuda::grouped_gemm_fp8_f32(one_group, /*gated=*/false, stream);
    return;
  }
  if (!f32_output) {
    const int64_t row_length = dsinfer::cuda::fp8_weight_scale_row_length(k);
    const float* padded_scales = weight_scales;
    if (row_length != k_blocks) {
      float* padded = scratch_as<float>(ScratchSlot::kWeightScales, n_blocks * row_length);
      pad_weight_scales_kernel<<<blocks_for(n_blocks * k_blocks, 256), 256, 0, stream>>>(weight_scales, n_blocks,
                                                                                          k_blocks, row_length, padded);
      DSINFER_CUDA_CHECK_LAUNCH("pad_weight_scales_kernel");
      padded_scales = padded;
    }
    const bool direct = quantized.padded_rows == tokens;
    void* gemm_output =
        direct ? output.data() : scratch_as<uint16_t>(ScratchSlot::kGemmOutput, quantized.padded_rows * n);
    if (dsinfer::cuda::gemm_fp8_blockwise(quantized.codes, quantized.scales, weight.weight.data(), padded_scales,
                                          gemm_output, quantized.padded_rows, n, k, stream)) {
      if (!direct)
        DSINFER_CUDA_CHECK(cudaMemcpyAsync(output.data(), gemm_output, output.nbytes(), cudaMemcpyDeviceToDevice, stream));
      return;
    }
  }
  // cuBLASLt has no algorithm for this shape (partial 128-blocks, say) or the output is F32: the tiled kernel.
  dsinfer::cuda::grouped_gemm(one_group, /*fp8=*/true, /*gated=*/false, stream);
}

// ops::linear without its timer (the pair and gated forms fall back to it).
void run_linear(const Tensor& input, const LinearWeight& weight, Tensor& output, cudaStream_t stream) {
  DSINFER_CHECK(input.dtype() == DType::kBF16 || input.dtype() == DType::kF32,
                "ops::linear on CUDA takes BF16 or F32 input, got ", input.describe());
  DSINFER_CHECK(output.dtype() == DType::kBF16 || output.dtype() == DType::kF32, "ops::linear on CUDA: output ",
                output.describe(), " must be BF16 or F32");
  const int64_t tokens = input.dim(0);
  if (tokens == 0) return;
  if (skinny_applies(input, weight)) {
    run_skinny(input, weight, output, nullptr, nullptr, false, stream);
  } else if (weight.is_fp8()) {
    linear_fp8(input, weight, output, stream);
  } else if (input.dtype() == DType::kF32) {
    dsinfer::cuda::gemm_float_linear(input.data_as<const float>(), weight.weight.data(), weight.weight.dtype(),
                                     output.data(), output.dtype(), tokens, weight.out_features(),
                                     weight.in_features(), stream);
  } else {
    require_dtype("linear (weight)", weight.weight, DType::kBF16);
    dsinfer::cuda::gemm_bf16(input.data(), weight.weight.data(), output.data(), output.dtype(), tokens,
                             weight.out_features(), weight.in_features(), stream);
  }
}

const char* timer_name(const Tensor& input, const LinearWeight& weight) {
  if (input.dtype() == DType::kF32) return "linear (F32 input)";
  if (skinny_applies(input, weight)) return weight.is_fp8() ? "linear (FP8, skinny)" : "linear (BF16, skinny)";
  return weight.is_fp8() ? "linear (FP8, GEMM)" : "linear (BF16, GEMM)";
}

}  // namespace

void linear(const Tensor& input, const LinearWeight& weight, Tensor& output, bool /*quantize_activations*/) {
  dsinfer::cuda::OpTimer timer(timer_name(input, weight));
  run_linear(input, weight, output, dsinfer::cuda::current_stream());
}

void linear_pair(const Tensor& input, const LinearWeight& first, const LinearWeight& second, Tensor& first_output,
                 Tensor& second_output, bool /*quantize_activations*/) {
  const bool one_launch = skinny_applies(input, first) && skinny_applies(input, second) &&
                          first.weight.dtype() == second.weight.dtype();  // one kind of A operand per launch
  dsinfer::cuda::OpTimer timer(one_launch ? "linear_pair (skinny)" : "linear_pair (two GEMMs)");
  cudaStream_t stream = dsinfer::cuda::current_stream();
  if (one_launch) {
    run_skinny(input, first, first_output, &second, &second_output, false, stream);
    return;
  }
  run_linear(input, first, first_output, stream);
  run_linear(input, second, second_output, stream);
}

void silu_gated_linear(const Tensor& input, const LinearWeight& gate, const LinearWeight& up, Tensor& output,
                       bool /*quantize_activations*/) {
  const bool one_launch = skinny_applies(input, gate) && skinny_applies(input, up);
  dsinfer::cuda::OpTimer timer(one_launch ? "silu_gated_linear (skinny)" : "silu_gated_linear (two GEMMs)");
  cudaStream_t stream = dsinfer::cuda::current_stream();
  if (input.dim(0) == 0) return;
  if (one_launch) {
    run_skinny(input, gate, output, &up, nullptr, true, stream);
    return;
  }
  Tensor up_output = Tensor::view(dsinfer::cuda::scratch(ScratchSlot::kGatedUp, output.nbytes()), output.shape(),
                                  output.dtype(), Device::kCuda);  // [T, I]
  run_linear(input, gate, output, stream);
  run_linear(input, up, up_output, stream);
  ops::cuda::silu_and_mul(output, up_output, output);
}

}  // namespace dsinfer::ops::cuda
