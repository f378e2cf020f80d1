// Helpers shared by the CPU kernels: reading checkpoint-dtype vectors as float32, and the float dot product
// every CPU matmul reduces to.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor.h"

namespace dsinfer::ops::cpu {

// out[i] = element (offset + i) of `tensor` as float, for F32 / BF16 / F16 tensors.
inline void read_as_float(const Tensor& tensor, int64_t offset, int64_t count, float* out) {
  switch (tensor.dtype()) {
    case DType::kF32: {
      const float* source = tensor.data_as<const float>() + offset;
      for (int64_t i = 0; i < count; ++i) out[i] = source[i];
      return;
    }
    case DType::kBF16: {
      const bf16* source = tensor.data_as<const bf16>() + offset;
      for (int64_t i = 0; i < count; ++i) out[i] = bf16_to_float(source[i]);
      return;
    }
    case DType::kF16: {
      const uint16_t* source = tensor.data_as<const uint16_t>() + offset;
      for (int64_t i = 0; i < count; ++i) out[i] = f16_to_float(source[i]);
      return;
    }
    default:
      fail("CPU backend: cannot read ", tensor.describe(), " as float (expected F32, BF16 or F16)");
  }
}

// Activations on the CPU backend are F32; every op checks this once.
inline void require_f32(const char* op_name, const Tensor& tensor) {
  DSINFER_CHECK(tensor.dtype() == DType::kF32, "ops::", op_name, " on the CPU takes F32 activations, got ",
                tensor.describe());
}

// sum_i a[i] * b[i], vectorised (float accumulation in independent lanes).
inline float dot(const float* a, const float* b, int64_t count) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < count; ++i) sum += a[i] * b[i];
  return sum;
}

// y[i] += alpha * x[i]
inline void axpy(float alpha, const float* x, float* y, int64_t count) {
#pragma omp simd
  for (int64_t i = 0; i < count; ++i) y[i] += alpha * x[i];
}

}  // namespace dsinfer::ops::cpu
