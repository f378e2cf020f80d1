#include "kernels/sm90/gemm/fp8_blockwise_gemv.h"

#include <cuda_fp16.h>

#include "core/error.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/device_math.cuh"

namespace dsinfer::cuda {

namespace {

constexpr int kRowsPerPass = 8;   // token rows per grid.y slice
constexpr int kWarpsPerBlock = 8; // one weight row (output column) per warp
constexpr int kUnroll = 4;        // weight chunks in flight per lane

// 16 e4m3 values (one uint4) -> 16 floats (exact: e4m3 -> half is exact).
__device__ __forceinline__ void decode_e4m3x16(const uint4& packed, float (&values)[16]) {
  const uint32_t words[4] = {packed.x, packed.y, packed.z, packed.w};
#pragma unroll
  for (int w = 0; w < 4; ++w) {
#pragma unroll
    for (int pair = 0; pair < 2; ++pair) {
      __half2_raw raw = __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(words[w] >> (16 * pair)), __NV_E4M3);
      float2 both = __half22float2(__half2(raw));
      values[w * 4 + pair * 2] = both.x;
      values[w * 4 + pair * 2 + 1] = both.y;
    }
  }
}

__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    fp8_blockwise_gemv_kernel(const uint8_t* __restrict__ a, const float* __restrict__ a_scales, int64_t a_scales_stride,
                              const uint8_t* __restrict__ weight, const float* __restrict__ weight_scales,
                              int64_t weight_scales_row_length, __nv_bfloat16* __restrict__ out, int64_t m, int64_t n,
                              int64_t k) {
  const int lane = threadIdx.x % 32;
  const int64_t column = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const int64_t first_row = static_cast<int64_t>(blockIdx.y) * kRowsPerPass;
  if (column >= n) return;
  const int rows = static_cast<int>(min(static_cast<int64_t>(kRowsPerPass), m - first_row));
  const uint8_t* weight_row = weight + column * k;
  const float* column_scales = weight_scales + (column / 128) * weight_scales_row_length;
  float accumulator[kRowsPerPass];
#pragma unroll
  for (int r = 0; r < kRowsPerPass; ++r) accumulator[r] = 0.0f;

  // Lane `lane` takes 16-value chunks lane, lane + 32, ...; chunk c lies in 128-block c / 8. Four chunks'
  // weights are loaded before any is used, so each warp keeps 2 KB of weight reads in flight.
  const int64_t chunks = k / 16;
  for (int64_t first_chunk = lane; first_chunk < chunks; first_chunk += 32 * kUnroll) {
    uint4 packed[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      int64_t chunk = first_chunk + 32 * u;
      packed[u] = chunk < chunks ? __ldcs(reinterpret_cast<const uint4*>(weight_row + chunk * 16)) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t chunk = first_chunk + 32 * u;
      if (chunk >= chunks) break;
      float w[16];
      decode_e4m3x16(packed[u], w);
      const int64_t block = chunk / 8;
      const float weight_scale = column_scales[block];
#pragma unroll
      for (int r = 0; r < kRowsPerPass; ++r) {
        if (r < rows) {
          float x[16];
          decode_e4m3x16(__ldg(reinterpret_cast<const uint4*>(a + (first_row + r) * k + chunk * 16)), x);
          float partial = 0.0f;
#pragma unroll
          for (int i = 0; i < 16; ++i) partial = fmaf(x[i], w[i], partial);
          accumulator[r] = fmaf(partial, weight_scale * a_scales[block * a_scales_stride + first_row + r], accumulator[r]);
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kRowsPerPass; ++r) {
    float total = warp_sum(accumulator[r]);
    if (lane == 0 && r < rows) out[(first_row + r) * n + column] = __float2bfloat16_rn(total);
  }
}

}  // namespace

void gemm_fp8_blockwise_gemv(const void* a, const float* a_scales, int64_t a_scales_stride, const void* weight,
                             const float* weight_scales, int64_t weight_scales_row_length, void* out, int64_t m,
                             int64_t n, int64_t k, cudaStream_t stream) {
  DSINFER_CHECK(m > 0 && n > 0 && k > 0 && k % 16 == 0, "FP8 GEMV: shape m=", m, " n=", n, " k=", k,
                " needs k a positive multiple of 16");
  DSINFER_CHECK(a_scales_stride >= m, "FP8 GEMV: activation scale stride ", a_scales_stride, " < rows ", m);
  dim3 grid(static_cast<unsigned>((n + kWarpsPerBlock - 1) / kWarpsPerBlock),
            static_cast<unsigned>((m + kRowsPerPass - 1) / kRowsPerPass));
  fp8_blockwise_gemv_kernel<<<grid, kWarpsPerBlock * 32, 0, stream>>>(
      static_cast<const uint8_t*>(a), a_scales, a_scales_stride, static_cast<const uint8_t*>(weight), weight_scales,
      weight_scales_row_length, static_cast<__nv_bfloat16*>(out), m, n, k);
  DSINFER_CUDA_CHECK_LAUNCH("fp8_blockwise_gemv_kernel");
}

}  // namespace dsinfer::cuda
