// Eight consecutive elements of a BF16 / F16 / F32 row as floats in 16-byte accesses (one for BF16 and F16,
// two for F32), for the single-row kernels of a decode step (rms_norm, mla_cache_write): a thread that moves
// its eight values in one or two vector accesses finishes each memory round trip in one step. Callers check
// vector_access_allowed() on the host first.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "kernels/common/device_math.cuh"
#include "ops/cuda/common.cuh"

namespace dsinfer::ops::cuda {

constexpr int kVectorValues = 8;

// True when `address` may be read and written kVectorValues elements at a time starting at any multiple of
// kVectorValues elements: 16-byte aligned (row offsets that are multiples of 8 elements keep that alignment).
inline bool vector_aligned(const void* address) { return reinterpret_cast<uintptr_t>(address) % 16 == 0; }

// values[0..8) = data[index .. index + 8) as float; index a multiple of kVectorValues, data vector_aligned.
__device__ __forceinline__ void load_vector(const void* data, FloatKind kind, int64_t index,
                                            float (&values)[kVectorValues]) {
  if (kind == FloatKind::kF32) {
    const float4* source = reinterpret_cast<const float4*>(static_cast<const float*>(data) + index);
    const float4 low = source[0], high = source[1];
    values[0] = low.x, values[1] = low.y, values[2] = low.z, values[3] = low.w;
    values[4] = high.x, values[5] = high.y, values[6] = high.z, values[7] = high.w;
    return;
  }
  // BF16 and F16: 2 bytes each, so one uint4 carries all eight (the pair in each word: low half first).
  const uint4 words = *reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(data) + index);
  const uint32_t packed[4] = {words.x, words.y, words.z, words.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    float2 pair;
    if (kind == FloatKind::kBf16) {
      pair = dsinfer::cuda::unpack_bf16x2(packed[i]);
    } else {
      __half2 halves = *reinterpret_cast<const __half2*>(&packed[i]);
      pair = __half22float2(halves);
    }
    values[2 * i] = pair.x;
    values[2 * i + 1] = pair.y;
  }
}

// data[index .. index + 8) = values rounded to nearest even in the element kind; same requirements as load_vector.
__device__ __forceinline__ void store_vector(void* data, FloatKind kind, int64_t index,
                                             const float (&values)[kVectorValues]) {
  if (kind == FloatKind::kF32) {
    float4* target = reinterpret_cast<float4*>(static_cast<float*>(data) + index);
    target[0] = make_float4(values[0], values[1], values[2], values[3]);
    target[1] = make_float4(values[4], values[5], values[6], values[7]);
    return;
  }
  uint32_t packed[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    if (kind == FloatKind::kBf16) {
      packed[i] = dsinfer::cuda::pack_bf16x2(values[2 * i], values[2 * i + 1]);
    } else {
      __half2 halves = __floats2half2_rn(values[2 * i], values[2 * i + 1]);
      packed[i] = *reinterpret_cast<const uint32_t*>(&halves);
    }
  }
  *reinterpret_cast<uint4*>(static_cast<uint16_t*>(data) + index) = make_uint4(packed[0], packed[1], packed[2], packed[3]);
}

// Block-wide sum for a kernel that reduces once (blockDim.x a multiple of 32, at most 1024): one barrier, after
// which every warp adds the per-warp partials itself. Every thread of the block must call it, and only once.
__device__ __forceinline__ float block_sum_once(float value) {
  __shared__ float partial[32];
  value = dsinfer::cuda::warp_sum(value);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  if (lane == 0) partial[warp] = value;
  __syncthreads();
  return dsinfer::cuda::warp_sum(lane < warps ? partial[lane] : 0.0f);
}

// Threads for one row of `width` elements at kVectorValues per thread, rounded up to whole warps.
inline int vector_threads(int64_t width) {
  const int64_t threads = (width + kVectorValues - 1) / kVectorValues;
  return static_cast<int>((threads + 31) / 32 * 32);
}

}  // namespace dsinfer::ops::cuda
