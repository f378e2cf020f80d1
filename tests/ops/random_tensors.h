// Fresh random inputs for op tests (a new seed every run, printed on failure) and float64 helpers.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "ops/linear.h"

namespace dsinfer::op_testing {

class RandomSource {
 public:
  RandomSource() : seed_(std::random_device{}()), engine_(seed_) {}
  uint32_t seed() const { return seed_; }
  float uniform(float low, float high) { return std::uniform_real_distribution<float>(low, high)(engine_); }
  float normal(float stddev = 1.0f) { return std::normal_distribution<float>(0.0f, stddev)(engine_); }
  int integer(int low, int high) { return std::uniform_int_distribution<int>(low, high)(engine_); }  // inclusive
  std::mt19937& engine() { return engine_; }

  // F32 tensor of normal values.
  Tensor normal_tensor(Shape shape, float stddev = 1.0f) {
    Tensor tensor = Tensor::empty(std::move(shape), DType::kF32);
    for (int64_t i = 0; i < tensor.numel(); ++i) tensor.data_as<float>()[i] = normal(stddev);
    return tensor;
  }
  // BF16 tensor of normal values.
  Tensor normal_bf16(Shape shape, float stddev = 1.0f) {
    Tensor tensor = Tensor::empty(std::move(shape), DType::kBF16);
    for (int64_t i = 0; i < tensor.numel(); ++i) tensor.data_as<bf16>()[i] = float_to_bf16(normal(stddev));
    return tensor;
  }

 private:
  uint32_t seed_;
  std::mt19937 engine_;
};

// Element i of an F32 / BF16 tensor as double.
inline double element(const Tensor& tensor, int64_t index) {
  if (tensor.dtype() == DType::kBF16) return bf16_to_float(tensor.data_as<const bf16>()[index]);
  return tensor.data_as<const float>()[index];
}

// DeepSeek's checkpoint format from a float weight [N, K]: e4m3 codes and a float32 scale per 128x128 block
// (amax / 448), the way the fixtures' gen.py quantizes.
inline ops::LinearWeight quantize_weight_blocks(const Tensor& weight, int block = 128) {
  const int64_t rows = weight.dim(0), columns = weight.dim(1);
  const int64_t block_rows = (rows + block - 1) / block, block_columns = (columns + block - 1) / block;
  ops::LinearWeight result;
  result.weight = Tensor::empty({rows, columns}, DType::kF8E4M3);
  result.scale_inv = Tensor::empty({block_rows, block_columns}, DType::kF32);
  result.block_rows = result.block_cols = block;
  for (int64_t br = 0; br < block_rows; ++br) {
    for (int64_t bc = 0; bc < block_columns; ++bc) {
      double amax = 1e-12;
      for (int64_t r = br * block; r < std::min(rows, (br + 1) * block); ++r)
        for (int64_t c = bc * block; c < std::min(columns, (bc + 1) * block); ++c)
          amax = std::max(amax, std::fabs(element(weight, r * columns + c)));
      float scale = static_cast<float>(amax / 448.0);
      result.scale_inv.data_as<float>()[br * block_columns + bc] = scale;
      for (int64_t r = br * block; r < std::min(rows, (br + 1) * block); ++r)
        for (int64_t c = bc * block; c < std::min(columns, (bc + 1) * block); ++c)
          result.weight.data_as<fp8_e4m3>()[r * columns + c] =
              float_to_fp8_e4m3(static_cast<float>(element(weight, r * columns + c) / scale));
    }
  }
  return result;
}

// The real value of weight[n][k] in double (dequantized for FP8).
inline double weight_value(const ops::LinearWeight& weight, int64_t row, int64_t column) {
  const int64_t columns = weight.in_features();
  if (!weight.is_fp8()) return element(weight.weight, row * columns + column);
  double code = fp8_e4m3_to_float(weight.weight.data_as<const fp8_e4m3>()[row * columns + column]);
  return code * weight.scale_inv.data_as<const float>()[(row / weight.block_rows) * weight.scale_inv.dim(1) +
                                                        column / weight.block_cols];
}

// |a - b| / |b| over whole vectors (the fixtures' error measure).
inline double relative_l2(const std::vector<double>& actual, const std::vector<double>& expected) {
  double difference = 0.0, norm = 0.0;
  for (size_t i = 0; i < expected.size(); ++i) {
    difference += (actual[i] - expected[i]) * (actual[i] - expected[i]);
    norm += expected[i] * expected[i];
  }
  return std::sqrt(difference / std::max(norm, 1e-300));
}

inline std::vector<double> to_doubles(const Tensor& tensor) {
  std::vector<double> values(static_cast<size_t>(tensor.numel()));
  for (int64_t i = 0; i < tensor.numel(); ++i) values[i] = element(tensor, i);
  return values;
}

}  // namespace dsinfer::op_testing
