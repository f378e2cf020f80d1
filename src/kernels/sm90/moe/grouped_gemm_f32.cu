// The grouped FP8 GEMM of grouped_gemm.h on the CUDA cores, for the F32-activation mode: the same operands
// and results, but each 128-wide K block's e4m3 products (exact in float) are summed in float32 and promoted
// with a_scale * w_scale in float32, where the tensor cores' FP8 accumulator keeps only about 13 mantissa
// bits. One thread per output element: CTA (sorted row, 128 columns).
#include "core/error.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/device_math.cuh"
#include "kernels/sm90/moe/grouped_gemm.h"

namespace dsinfer::cuda {

namespace {

constexpr int kThreads = 128;

template <bool kGated>
__global__ void __launch_bounds__(kThreads) grouped_gemm_f32_kernel(const GroupedGemmParams params) {
  const int64_t row = blockIdx.x;
  const int64_t column = static_cast<int64_t>(blockIdx.y) * kThreads + threadIdx.x;
  if (column >= params.n) return;
  int expert = 0;
  if (params.expert_offsets != nullptr) {
    if (row >= params.expert_offsets[params.experts]) return;  // assignments of no expert get no row
    int low = 0, high = params.experts - 1;  // the largest e with offsets[e] <= row (empty experts skipped)
    while (low < high) {
      int middle = (low + high + 1) / 2;
      if (params.expert_offsets[middle] <= row) low = middle;
      else high = middle - 1;
    }
    expert = low;
  }
  const int64_t a_row = params.a_row_slots != nullptr ? params.a_row_slots[row] / params.a_row_divisor : row;
  const bool tables = params.weight0_experts != nullptr;
  const auto* weight0 = static_cast<const uint8_t*>(tables ? params.weight0_experts[expert] : params.weight0);
  const float* scales0 = tables ? params.weight0_scale_experts[expert] : params.weight0_scales;
  const auto* weight1 = kGated ? static_cast<const uint8_t*>(params.weight1_experts[expert]) : nullptr;
  const float* scales1 = kGated ? params.weight1_scale_experts[expert] : nullptr;
  const int64_t k = params.k, k_blocks = (k + 127) / 128;
  const uint8_t* a = static_cast<const uint8_t*>(params.a) + a_row * k;
  const int64_t weight_offset = column * k, scale_offset = (column / 128) * k_blocks;

  float sum0 = 0.0f, sum1 = 0.0f;
  for (int64_t block = 0; block < k_blocks; ++block) {
    float block0 = 0.0f, block1 = 0.0f;
    const int64_t end = (block + 1) * 128 < k ? (block + 1) * 128 : k;
    for (int64_t i = block * 128; i < end; ++i) {
      const float x = e4m3_to_float(a[i]);
      block0 += x * e4m3_to_float(weight0[weight_offset + i]);
      if constexpr (kGated) block1 += x * e4m3_to_float(weight1[weight_offset + i]);
    }
    const float a_scale = params.a_scales[block * params.a_scales_stride + a_row];
    sum0 += block0 * (a_scale * scales0[scale_offset + block]);
    if constexpr (kGated) sum1 += block1 * (a_scale * scales1[scale_offset + block]);
  }
  const float value = kGated ? sum0 / (1.0f + __expf(-sum0)) * sum1 : sum0;
  const int64_t offset = row * params.n + column;
  if (params.out_f32) static_cast<float*>(params.out)[offset] = value;
  else static_cast<__nv_bfloat16*>(params.out)[offset] = __float2bfloat16_rn(value);
}

}  // namespace

void grouped_gemm_fp8_f32(const GroupedGemmParams& params, bool gated, cudaStream_t stream) {
  DSINFER_CHECK(!gated || params.weight1_experts != nullptr, "grouped expert GEMM (F32): the gated form needs expert tables");
  DSINFER_CHECK(params.n > 0 && params.k > 0, "grouped expert GEMM (F32): empty shape n=", params.n, " k=", params.k);
  DSINFER_CHECK((params.n + kThreads - 1) / kThreads <= 65535, "grouped expert GEMM (F32): n=", params.n,
                " exceeds one launch");
  if (params.rows == 0) return;
  dim3 grid(static_cast<unsigned>(params.rows), static_cast<unsigned>((params.n + kThreads - 1) / kThreads));
  if (gated) grouped_gemm_f32_kernel<true><<<grid, kThreads, 0, stream>>>(params);
  else grouped_gemm_f32_kernel<false><<<grid, kThreads, 0, stream>>>(params);
  DSINFER_CUDA_CHECK_LAUNCH("grouped_gemm_f32_kernel");
}

}  // namespace dsinfer::cuda
