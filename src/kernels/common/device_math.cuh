// Small device helpers shared by the kernels: BF16 / FP8 packing and warp reductions.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include <cstdint>

namespace dsinfer::cuda {

constexpr float kFp8E4m3Max = 448.0f;
constexpr float kLog2e = 1.4426950408889634f;

__device__ __forceinline__ float warp_max(float value) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
  return value;
}

__device__ __forceinline__ float warp_sum(float value) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

// Reading and writing a BF16 or F32 element as float (kernels templated on the activation dtype).
__device__ __forceinline__ float to_float(float value) { return value; }
__device__ __forceinline__ float to_float(__nv_bfloat16 value) { return __bfloat162float(value); }
__device__ __forceinline__ void store_float(float* out, float value) { *out = value; }
__device__ __forceinline__ void store_float(__nv_bfloat16* out, float value) { *out = __float2bfloat16_rn(value); }

// Two floats -> one 32-bit word of two BF16 (low half = first), round to nearest even.
__device__ __forceinline__ uint32_t pack_bf16x2(float low, float high) {
  __nv_bfloat162 packed = __floats2bfloat162_rn(low, high);
  return *reinterpret_cast<uint32_t*>(&packed);
}

__device__ __forceinline__ float2 unpack_bf16x2(uint32_t word) {
  __nv_bfloat162 packed = *reinterpret_cast<__nv_bfloat162*>(&word);
  return __bfloat1622float2(packed);
}

// e4m3 with round-to-nearest-even, saturating to +-448 (NaN stays NaN), as the CPU backend converts.
__device__ __forceinline__ uint8_t float_to_e4m3(float value) {
  return static_cast<uint8_t>(__nv_cvt_float_to_fp8(value, __NV_SATFINITE, __NV_E4M3));
}

__device__ __forceinline__ float e4m3_to_float(uint8_t bits) {
  __half_raw raw = __nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(bits), __NV_E4M3);
  return __half2float(__half(raw));
}

}  // namespace dsinfer::cuda
