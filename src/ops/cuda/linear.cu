// linear on CUDA. BF16 weights: the skinny tensor-core kernel for few token rows, else one cuBLASLt GEMM.
// FP8 weights (always W8A8): quantize the input per 1x128 group, then the skinny tensor-core kernel for few
// token rows, else cuBLASLt's block-scaled GEMM (token rows padded to a multiple of 4, weight_scale_inv rows
// padded to a multiple of 4 blocks), or, for shapes cuBLASLt rejects, the tiled tensor-core kernel of the MoE
// experts run as one group.
#include "kernels/gemm/cublaslt_gemm.h"
#include "kernels/runtime/scratch.h"
#include "kernels/sm90/gemm/skinny_gemm.h"
#include "kernels/sm90/moe/grouped_gemm.h"
#include "kernels/sm90/quant/fp8_group_quant.h"
#include "kernels/runtime/op_timing.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/cuda_ops.h"

namespace dsinfer::ops::cuda {

namespace {

using dsinfer::cuda::ScratchSlot;
using dsinfer::cuda::scratch_as;

using dsinfer::cuda::kSkinnyMaxRows;  // up to this many rows the skinny kernels stream each weight byte once

// weight_scale_inv [row_blocks, k_blocks] -> [row_blocks, padded_k_blocks] (padding left unset: never read).
__global__ void pad_weight_scales_kernel(const float* scales, int64_t row_blocks, int64_t k_blocks,
                                         int64_t padded_k_blocks, float* padded) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < row_blocks * k_blocks;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    padded[(i / k_blocks) * padded_k_blocks + i % k_blocks] = scales[i];
}

void linear_fp8(const Tensor& input, const LinearWeight& weight, Tensor& output, cudaStream_t stream) {
  DSINFER_CHECK(weight.block_rows == 128 && weight.block_cols == 128, "ops::linear on CUDA: FP8 weight blocks must be "
                "128x128 (DeepSeek's weight_block_size), got ", weight.block_rows, "x", weight.block_cols);
  require_dtype("linear (FP8 weight)", output, DType::kBF16);
  const int64_t tokens = input.dim(0), k = input.dim(1), n = weight.out_features();
  DSINFER_CHECK(k % 16 == 0, "ops::linear on CUDA: FP8 weight ", weight.weight.describe(),
                " needs an input width that is a multiple of 16, got ", k);
  const int64_t padded_tokens = (tokens + 3) / 4 * 4;
  const int64_t k_blocks = (k + 127) / 128, n_blocks = (n + 127) / 128;
  uint8_t* quantized = scratch_as<uint8_t>(ScratchSlot::kQuantizedActivations, padded_tokens * k);
  float* input_scales = scratch_as<float>(ScratchSlot::kActivationScales, k_blocks * padded_tokens);
  dsinfer::cuda::quantize_fp8_groups(input.data(), DType::kBF16, k, quantized, input_scales, tokens, padded_tokens, k,
                                     stream);

  const float* weight_scales = weight.scale_inv.data_as<const float>();
  if (tokens > kSkinnyMaxRows) {
    const int64_t row_length = dsinfer::cuda::fp8_weight_scale_row_length(k);
    const float* padded_scales = weight_scales;
    if (row_length != k_blocks) {
      float* padded = scratch_as<float>(ScratchSlot::kWeightScales, n_blocks * row_length);
      pad_weight_scales_kernel<<<blocks_for(n_blocks * k_blocks, 256), 256, 0, stream>>>(weight_scales, n_blocks,
                                                                                          k_blocks, row_length, padded);
      DSINFER_CUDA_CHECK_LAUNCH("pad_weight_scales_kernel");
      padded_scales = padded;
    }
    const bool direct = padded_tokens == tokens;
    void* gemm_output = direct ? output.data() : scratch_as<uint16_t>(ScratchSlot::kGemmOutput, padded_tokens * n);
    if (dsinfer::cuda::gemm_fp8_blockwise(quantized, input_scales, weight.weight.data(), padded_scales, gemm_output,
                                          padded_tokens, n, k, stream)) {
      if (!direct)
        DSINFER_CUDA_CHECK(cudaMemcpyAsync(output.data(), gemm_output, output.nbytes(), cudaMemcpyDeviceToDevice, stream));
      return;
    }
    // cuBLASLt has no algorithm for this shape (partial 128-blocks, say): the tiled kernel, one group.
    dsinfer::cuda::GroupedGemmParams gemm{};
    gemm.a = quantized;
    gemm.a_scales = input_scales;
    gemm.a_scales_stride = padded_tokens;
    gemm.weight0 = weight.weight.data();
    gemm.weight0_scales = weight_scales;
    gemm.experts = 1;
    gemm.rows = tokens;
    gemm.n = n;
    gemm.k = k;
    gemm.out = output.data();
    dsinfer::cuda::grouped_gemm(gemm, /*fp8=*/true, /*gated=*/false, stream);
    return;
  }
  dsinfer::cuda::gemm_fp8_blockwise_skinny(quantized, input_scales, padded_tokens, weight.weight.data(), weight_scales,
                                           k_blocks, output.data(), tokens, n, k, stream);
}

}  // namespace

void linear(const Tensor& input, const LinearWeight& weight, Tensor& output, bool /*quantize_activations*/) {
  const bool skinny = input.dim(0) <= kSkinnyMaxRows;
  dsinfer::cuda::OpTimer timer(weight.is_fp8() ? (skinny ? "linear (FP8, skinny)" : "linear (FP8, GEMM)")
                                               : (skinny ? "linear (BF16, skinny)" : "linear (BF16, GEMM)"));
  require_dtype("linear", input, DType::kBF16);
  const int64_t tokens = input.dim(0);
  if (tokens == 0) return;
  cudaStream_t stream = dsinfer::cuda::current_stream();
  if (weight.is_fp8()) {
    linear_fp8(input, weight, output, stream);
    return;
  }
  require_dtype("linear (weight)", weight.weight, DType::kBF16);
  DSINFER_CHECK(output.dtype() == DType::kBF16 || output.dtype() == DType::kF32, "ops::linear on CUDA: output ",
                output.describe(), " must be BF16 or F32");
  if (tokens <= kSkinnyMaxRows && weight.in_features() % 8 == 0) {
    dsinfer::cuda::gemm_bf16_skinny(input.data(), weight.weight.data(), output.data(), output.dtype(), tokens,
                                    weight.out_features(), weight.in_features(), stream);
    return;
  }
  dsinfer::cuda::gemm_bf16(input.data(), weight.weight.data(), output.data(), output.dtype(), tokens,
                           weight.out_features(), weight.in_features(), stream);
}

}  // namespace dsinfer::ops::cuda
