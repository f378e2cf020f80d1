// GEMMs for up to 8 token rows (decode), on the tensor cores with the operands swapped:
// out^T[n, t] = W[n, :] . X[t, :], so the weight rows fill the 16-row side of mma.sync (m16n8k32 e4m3 or
// m16n8k16 BF16: 32 bytes of K either way) and the few tokens the 8-column side. Weights stream from global memory straight into A fragments (no shared
// memory): since a dot product does not care in which order its k terms are summed, each lane loads 16
// contiguous bytes of a weight row and of a token row and both operands use the same k-to-slot mapping, so
// every load is a full 16-byte vector and a warp reads whole 64-byte runs of 8 rows. One CTA owns 16 output
// features; its 8 warps take interleaved 128-byte K blocks (for FP8 exactly DeepSeek's scale blocks, each
// promoted with a_scale[t] * w_scale[n / 128] on the CUDA cores) and add their partial sums in shared memory.
#include "kernels/sm90/gemm/skinny_gemm.h"

#include <cuda_bf16.h>

#include <type_traits>

#include "core/error.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/device_math.cuh"
#include "kernels/common/mma_sm80.cuh"

namespace dsinfer::cuda {

namespace {

constexpr int kWarps = 8;
constexpr int kFeatures = 16;    // output features (weight rows) per CTA
constexpr int kMaxTokens = static_cast<int>(kSkinnyMaxRows);
constexpr int kBlockBytes = 128; // one K scale block = two 64-byte k-steps per lane group

__device__ __forceinline__ uint4 load_or_zero(const uint8_t* pointer, bool valid) {
  return valid ? __ldg(reinterpret_cast<const uint4*>(pointer)) : make_uint4(0, 0, 0, 0);
}

// kFp8: e4m3 operands with block scales; else BF16 (scales unused). row_bytes: K times the element size.
template <bool kFp8, typename Out>
__global__ void __launch_bounds__(kWarps * 32)
    skinny_gemm_kernel(const uint8_t* __restrict__ a, const float* __restrict__ a_scales, int64_t a_scales_stride,
                       const uint8_t* __restrict__ weight, const float* __restrict__ weight_scales,
                       int64_t weight_scales_row_length, Out* __restrict__ out, int tokens, int64_t n, int64_t row_bytes) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, group = lane / 4, quad = lane % 4;
  const int64_t first_feature = static_cast<int64_t>(blockIdx.x) * kFeatures;
  // Lane (group, quad) loads 16 bytes at offset 16 * quad of each 64-byte k-step, from weight rows group and
  // group + 8 and from token row group.
  const int64_t row_low = first_feature + group, row_high = row_low + 8;
  const bool low_valid = row_low < n, high_valid = row_high < n, token_valid = group < tokens;
  const uint8_t* weight_low = weight + (low_valid ? row_low : 0) * row_bytes;
  const uint8_t* weight_high = weight + (high_valid ? row_high : 0) * row_bytes;
  const uint8_t* token_row = a + (token_valid ? group : 0) * row_bytes;
  const float* feature_scales = kFp8 ? weight_scales + (first_feature / 128) * weight_scales_row_length : nullptr;

  float accumulator[4] = {0.0f, 0.0f, 0.0f, 0.0f};  // rows (features) group / group + 8, columns (tokens) 2q, 2q+1
  const int64_t blocks = (row_bytes + kBlockBytes - 1) / kBlockBytes;
  for (int64_t block = warp; block < blocks; block += kWarps) {
    uint4 w_low[2], w_high[2], x[2];
#pragma unroll
    for (int step = 0; step < 2; ++step) {
      const int64_t offset = block * kBlockBytes + step * 64 + quad * 16;
      const bool in_range = offset < row_bytes;
      w_low[step] = load_or_zero(weight_low + offset, in_range && low_valid);
      w_high[step] = load_or_zero(weight_high + offset, in_range && high_valid);
      x[step] = load_or_zero(token_row + offset, in_range && token_valid);
    }
    float partial[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
    for (int step = 0; step < 2; ++step) {
      // Two mmas (32 bytes of K each) per 16 loaded bytes: slots (a0, a2) take bytes 0-7 then 8-15 of the low
      // row's vector, (a1, a3) the high row's, and (b0, b1) the token's, in the same order.
      const uint32_t first[4] = {w_low[step].x, w_high[step].x, w_low[step].y, w_high[step].y};
      const uint32_t second[4] = {w_low[step].z, w_high[step].z, w_low[step].w, w_high[step].w};
      if constexpr (kFp8) {
        mma_e4m3_16832(partial, first, x[step].x, x[step].y);
        mma_e4m3_16832(partial, second, x[step].z, x[step].w);
      } else {
        mma_bf16_16816(partial, first, x[step].x, x[step].y);
        mma_bf16_16816(partial, second, x[step].z, x[step].w);
      }
    }
    if constexpr (kFp8) {
      const float w_scale = feature_scales[block];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int token = 2 * quad + (i & 1);
        const float a_scale = token < tokens ? a_scales[block * a_scales_stride + token] : 0.0f;
        accumulator[i] += partial[i] * (w_scale * a_scale);
      }
    } else {
#pragma unroll
      for (int i = 0; i < 4; ++i) accumulator[i] += partial[i];
    }
  }

  __shared__ float sums[kWarps][kFeatures][kMaxTokens];
#pragma unroll
  for (int i = 0; i < 4; ++i) sums[warp][group + 8 * (i / 2)][2 * quad + (i & 1)] = accumulator[i];
  __syncthreads();
  for (int index = threadIdx.x; index < kFeatures * kMaxTokens; index += kWarps * 32) {
    const int feature = index / kMaxTokens, token = index % kMaxTokens;
    const int64_t row = first_feature + feature;
    if (token >= tokens || row >= n) continue;
    float total = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) total += sums[w][feature][token];
    if constexpr (std::is_same_v<Out, float>) out[static_cast<int64_t>(token) * n + row] = total;
    else out[static_cast<int64_t>(token) * n + row] = __float2bfloat16_rn(total);
  }
}

}  // namespace

void gemm_fp8_blockwise_skinny(const void* a, const float* a_scales, int64_t a_scales_stride, const void* weight,
                               const float* weight_scales, int64_t weight_scales_row_length, void* out, int64_t m,
                               int64_t n, int64_t k, cudaStream_t stream) {
  DSINFER_CHECK(m > 0 && m <= kMaxTokens && n > 0 && k > 0 && k % 16 == 0, "FP8 skinny GEMM: shape m=", m, " n=", n,
                " k=", k, " needs 1 <= m <= ", kMaxTokens, " and k a positive multiple of 16");
  DSINFER_CHECK(a_scales_stride >= m, "FP8 skinny GEMM: activation scale stride ", a_scales_stride, " < rows ", m);
  const unsigned blocks = static_cast<unsigned>((n + kFeatures - 1) / kFeatures);
  skinny_gemm_kernel<true, __nv_bfloat16><<<blocks, kWarps * 32, 0, stream>>>(
      static_cast<const uint8_t*>(a), a_scales, a_scales_stride, static_cast<const uint8_t*>(weight), weight_scales,
      weight_scales_row_length, static_cast<__nv_bfloat16*>(out), static_cast<int>(m), n, k);
  DSINFER_CUDA_CHECK_LAUNCH("skinny_gemm_kernel (FP8)");
}

void gemm_bf16_skinny(const void* a, const void* weight, void* out, DType out_dtype, int64_t m, int64_t n, int64_t k,
                      cudaStream_t stream) {
  DSINFER_CHECK(m > 0 && m <= kMaxTokens && n > 0 && k > 0 && k % 8 == 0, "BF16 skinny GEMM: shape m=", m, " n=", n,
                " k=", k, " needs 1 <= m <= ", kMaxTokens, " and k a positive multiple of 8");
  const unsigned blocks = static_cast<unsigned>((n + kFeatures - 1) / kFeatures);
  const auto* a_bytes = static_cast<const uint8_t*>(a);
  const auto* weight_bytes = static_cast<const uint8_t*>(weight);
  if (out_dtype == DType::kF32) {
    skinny_gemm_kernel<false, float><<<blocks, kWarps * 32, 0, stream>>>(
        a_bytes, nullptr, 0, weight_bytes, nullptr, 0, static_cast<float*>(out), static_cast<int>(m), n, 2 * k);
  } else {
    DSINFER_CHECK(out_dtype == DType::kBF16, "BF16 skinny GEMM: output dtype ", dtype_name(out_dtype), " is not BF16 or F32");
    skinny_gemm_kernel<false, __nv_bfloat16><<<blocks, kWarps * 32, 0, stream>>>(
        a_bytes, nullptr, 0, weight_bytes, nullptr, 0, static_cast<__nv_bfloat16*>(out), static_cast<int>(m), n, 2 * k);
  }
  DSINFER_CUDA_CHECK_LAUNCH("skinny_gemm_kernel (BF16)");
}

}  // namespace dsinfer::cuda
