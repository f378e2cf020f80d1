// Shared by the CUDA op files: dtype checks, reading BF16 / F16 / F32 elements as float on the device, and
// launch sizing. Activations on the CUDA backend are BF16; weights keep their checkpoint dtype.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "core/error.h"
#include "core/tensor.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/device_math.cuh"
#include "kernels/runtime/device.h"

namespace dsinfer::ops::cuda {

inline void require_dtype(const char* op_name, const Tensor& tensor, DType dtype) {
  DSINFER_CHECK(tensor.dtype() == dtype, "ops::", op_name, " on CUDA takes ", dtype_name(dtype), ", got ",
                tensor.describe());
}

inline void require_float_dtype(const char* op_name, const Tensor& tensor) {
  DSINFER_CHECK(tensor.dtype() == DType::kBF16 || tensor.dtype() == DType::kF32 || tensor.dtype() == DType::kF16,
                "ops::", op_name, " on CUDA reads BF16, F16 or F32, got ", tensor.describe());
}

// The dtypes a device kernel can read as float, passed by value.
enum class FloatKind : int { kBf16, kF16, kF32 };
inline FloatKind float_kind(const Tensor& tensor) {
  return tensor.dtype() == DType::kBF16 ? FloatKind::kBf16 : tensor.dtype() == DType::kF16 ? FloatKind::kF16
                                                                                           : FloatKind::kF32;
}

__device__ __forceinline__ float load_as_float(const void* data, FloatKind kind, int64_t index) {
  switch (kind) {
    case FloatKind::kBf16: return __bfloat162float(static_cast<const __nv_bfloat16*>(data)[index]);
    case FloatKind::kF16: return __half2float(static_cast<const __half*>(data)[index]);
    default: return static_cast<const float*>(data)[index];
  }
}

__device__ __forceinline__ void store_from_float(void* data, FloatKind kind, int64_t index, float value) {
  switch (kind) {
    case FloatKind::kBf16: static_cast<__nv_bfloat16*>(data)[index] = __float2bfloat16_rn(value); break;
    case FloatKind::kF16: static_cast<__half*>(data)[index] = __float2half_rn(value); break;
    default: static_cast<float*>(data)[index] = value; break;
  }
}

inline unsigned blocks_for(int64_t count, int threads) {
  return static_cast<unsigned>((count + threads - 1) / threads);
}

// Block-wide sum of one float per thread (blockDim.x a multiple of 32, at most 1024); every thread gets it.
__device__ __forceinline__ float block_sum(float value) {
  __shared__ float partial[32];
  value = dsinfer::cuda::warp_sum(value);
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  __syncthreads();  // `partial` may still be read by a previous call
  if (lane == 0) partial[warp] = value;
  __syncthreads();
  float total = lane < warps ? partial[lane] : 0.0f;
  return dsinfer::cuda::warp_sum(total);
}

}  // namespace dsinfer::ops::cuda
