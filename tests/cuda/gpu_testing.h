// Helpers for the GPU tests: skip without a device, move tensors between the CPU twin's F32 world and the
// device's BF16 world, poison outputs so unwritten elements show, and compare row by row.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "kernels/common/cuda_check.h"
#include "kernels/runtime/device.h"
#include "ops/random_tensors.h"

namespace dsinfer::gpu_testing {

using op_testing::RandomSource;

// A device exists and the runtime is initialised with a pool big enough for every GPU test.
inline bool gpu_ready() {
  static const bool ready = [] {
    if (!cuda::device_available()) return false;
    cuda::DeviceOptions options;
    options.pool_bytes = size_t{24} << 30;
    cuda::initialize(options);
    return true;
  }();
  return ready;
}

#define DSINFER_REQUIRE_GPU()                                                   \
  do {                                                                          \
    if (!::dsinfer::gpu_testing::gpu_ready()) GTEST_SKIP() << "no CUDA device"; \
  } while (0)

// F32 host values rounded to BF16, so the CPU twin and the device see the same numbers.
inline Tensor round_to_bf16(Tensor tensor) {
  float* values = tensor.data_as<float>();
  for (int64_t i = 0; i < tensor.numel(); ++i) values[i] = bf16_to_float(float_to_bf16(values[i]));
  return tensor;
}

inline Tensor normal_f32_bf16_exact(RandomSource& random, Shape shape, float stddev = 1.0f) {
  return round_to_bf16(random.normal_tensor(std::move(shape), stddev));
}

// A host weight from F32 values [N, K]: block-scaled FP8 (128 x 128 blocks), or the values rounded to BF16.
inline ops::LinearWeight host_weight(const Tensor& values, bool fp8) {
  if (fp8) return op_testing::quantize_weight_blocks(values);
  ops::LinearWeight weight;
  weight.weight = Tensor::empty(values.shape(), DType::kBF16);
  for (int64_t i = 0; i < values.numel(); ++i) weight.weight.data_as<bf16>()[i] = float_to_bf16(values.data_as<float>()[i]);
  return weight;
}

// Host tensor (F32, BF16, I32, F8, ...) -> device tensor of `dtype` (float conversions on the host).
inline Tensor to_gpu(const Tensor& host, DType dtype) {
  if (host.dtype() == dtype) return cuda::to_device(host);
  Tensor converted = Tensor::empty(host.shape(), dtype);
  for (int64_t i = 0; i < host.numel(); ++i) {
    float value = host.dtype() == DType::kBF16 ? bf16_to_float(host.data_as<const bf16>()[i])
                                                : host.data_as<const float>()[i];
    if (dtype == DType::kBF16) converted.data_as<bf16>()[i] = float_to_bf16(value);
    else converted.data_as<float>()[i] = value;
  }
  return cuda::to_device(converted);
}
inline Tensor to_gpu(const Tensor& host) { return cuda::to_device(host); }

// A weight of a linear test's kind on the host, values ~N(0, 0.05): BF16, or block-scaled FP8 with block scales
// varied by 0.5-2x so that a misplaced scale shows.
inline ops::LinearWeight random_linear_weight(RandomSource& random, int64_t n, int64_t k, bool fp8) {
  if (!fp8) {
    ops::LinearWeight weight;
    weight.weight = random.normal_bf16({n, k}, 0.05f);
    return weight;
  }
  ops::LinearWeight weight = op_testing::quantize_weight_blocks(random.normal_tensor({n, k}, 0.05f));
  for (int64_t i = 0; i < weight.scale_inv.numel(); ++i) weight.scale_inv.data_as<float>()[i] *= random.uniform(0.5f, 2.0f);
  return weight;
}

// The same weight on the device (codes and scales as stored).
inline ops::LinearWeight to_gpu(const ops::LinearWeight& host) {
  ops::LinearWeight device = host;
  device.weight = to_gpu(host.weight);
  if (host.is_fp8()) device.scale_inv = to_gpu(host.scale_inv);
  return device;
}

// Device tensor (BF16 / F32) -> host F32.
inline Tensor to_cpu_f32(const Tensor& device) {
  Tensor host = cuda::to_host(device);
  if (host.dtype() == DType::kF32) return host;
  Tensor converted = Tensor::empty(host.shape(), DType::kF32);
  for (int64_t i = 0; i < host.numel(); ++i) converted.data_as<float>()[i] = bf16_to_float(host.data_as<const bf16>()[i]);
  return converted;
}

// A device tensor whose bytes are all 0xFF: NaN for BF16 / F32, so an element the op forgets stays NaN.
inline Tensor poisoned(Shape shape, DType dtype) {
  Tensor tensor = Tensor::empty(std::move(shape), dtype, Device::kCuda);
  DSINFER_CUDA_CHECK(cudaMemsetAsync(tensor.data(), 0xFF, tensor.nbytes(), cuda::current_stream()));
  return tensor;
}

// Per-row relative L2 errors |a - b| / |b| over rows of `width` values; a row with a NaN counts as infinite.
inline std::vector<double> row_errors(const Tensor& actual, const Tensor& expected, int64_t width) {
  EXPECT_EQ(actual.numel(), expected.numel());
  const float* a = actual.data_as<const float>();
  const float* b = expected.data_as<const float>();
  std::vector<double> errors;
  for (int64_t row = 0; row * width < expected.numel(); ++row) {
    double difference = 0.0, norm = 0.0;
    for (int64_t i = row * width; i < (row + 1) * width; ++i) {
      difference += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
      norm += static_cast<double>(b[i]) * b[i];
    }
    errors.push_back(std::isfinite(difference) ? std::sqrt(difference / std::max(norm, 1e-30)) : INFINITY);
  }
  return errors;
}

// Largest per-row relative L2 error; NaN anywhere fails.
inline double worst_row_error(const Tensor& actual, const Tensor& expected, int64_t width) {
  std::vector<double> errors = row_errors(actual, expected, width);
  return errors.empty() ? 0.0 : *std::max_element(errors.begin(), errors.end());
}

// Median per-row relative L2 error (robust to a rare row where float32 sums round one e4m3 code differently).
inline double median_row_error(const Tensor& actual, const Tensor& expected, int64_t width) {
  std::vector<double> errors = row_errors(actual, expected, width);
  if (errors.empty()) return 0.0;
  std::nth_element(errors.begin(), errors.begin() + errors.size() / 2, errors.end());
  return errors[errors.size() / 2];
}

}  // namespace dsinfer::gpu_testing
