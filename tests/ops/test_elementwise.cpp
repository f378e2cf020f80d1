// rms_norm, add_rms_norm, rope, silu_and_mul, gather_rows, copy / cast and fill_random against float64
// references on fresh random data.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>

#include "core/error.h"
#include "ops/add_rms_norm.h"
#include "ops/copy.h"
#include "ops/fill_random.h"
#include "ops/gather_rows.h"
#include "ops/rms_norm.h"
#include "ops/rope.h"
#include "ops/silu_and_mul.h"
#include "random_tensors.h"

namespace dsinfer {
namespace {

using op_testing::RandomSource;

std::vector<double> rms_norm_reference(const std::vector<double>& x, const Tensor& weight, int64_t width, double eps) {
  std::vector<double> out(x.size());
  for (size_t row = 0; row < x.size() / width; ++row) {
    double sum = 0.0;
    for (int64_t i = 0; i < width; ++i) sum += x[row * width + i] * x[row * width + i];
    double inverse = 1.0 / std::sqrt(sum / width + eps);
    for (int64_t i = 0; i < width; ++i) out[row * width + i] = op_testing::element(weight, i) * x[row * width + i] * inverse;
  }
  return out;
}

TEST(RmsNorm, MatchesFloat64InPlaceAndNot) {
  RandomSource random;
  SCOPED_TRACE(::testing::Message() << "seed " << random.seed());
  Tensor input = random.normal_tensor({9, 192}, 4.0f);
  Tensor weight = random.normal_bf16({192});
  auto expected = rms_norm_reference(op_testing::to_doubles(input), weight, 192, 1e-6);
  Tensor output = Tensor::empty({9, 192}, DType::kF32);
  ops::rms_norm(input, weight, 1e-6, output);
  EXPECT_LT(op_testing::relative_l2(op_testing::to_doubles(output), expected), 1e-7);
  ops::rms_norm(input, weight, 1e-6, input);
  EXPECT_LT(op_testing::relative_l2(op_testing::to_doubles(input), expected), 1e-7);
}

TEST(AddRmsNorm, UpdatesResidualAndNormalizesTheSum) {
  RandomSource random;
  SCOPED_TRACE(::testing::Message() << "seed " << random.seed());
  Tensor residual = random.normal_tensor({6, 160});
  Tensor addend = random.normal_tensor({6, 160});
  Tensor weight = random.normal_tensor({160});
  std::vector<double> sum = op_testing::to_doubles(residual);
  for (size_t i = 0; i < sum.size(); ++i) sum[i] += addend.data_as<float>()[i];
  Tensor output = Tensor::empty({6, 160}, DType::kF32);
  ops::add_rms_norm(residual, addend, weight, 1e-6, output);
  EXPECT_LT(op_testing::relative_l2(op_testing::to_doubles(residual), sum), 1e-7);
  EXPECT_LT(op_testing::relative_l2(op_testing::to_doubles(output), rms_norm_reference(sum, weight, 160, 1e-6)), 1e-7);
  EXPECT_THROW(ops::add_rms_norm(residual, addend, weight, 1e-6, residual), Error);
}

TEST(Rope, RotatesOnlyTheTrailingInterleavedPairs) {
  RandomSource random;
  SCOPED_TRACE(::testing::Message() << "seed " << random.seed());
  const int64_t tokens = 4, heads = 3, head_dim = 48, rope_dim = 16, positions_in_table = 50;
  Tensor table = Tensor::empty({positions_in_table, rope_dim}, DType::kF32);
  std::vector<double> angle(positions_in_table * rope_dim / 2);
  for (int64_t p = 0; p < positions_in_table; ++p)
    for (int64_t i = 0; i < rope_dim / 2; ++i) {
      double a = p * std::pow(10000.0, -2.0 * i / rope_dim);
      angle[p * rope_dim / 2 + i] = a;
      table.data_as<float>()[p * rope_dim + i] = static_cast<float>(1.3 * std::cos(a));  // scaled, as mscale does
      table.data_as<float>()[p * rope_dim + rope_dim / 2 + i] = static_cast<float>(1.3 * std::sin(a));
    }
  Tensor positions = Tensor::empty({tokens}, DType::kI32);
  for (int64_t t = 0; t < tokens; ++t) positions.data_as<int32_t>()[t] = random.integer(0, positions_in_table - 1);
  Tensor x = random.normal_tensor({tokens, heads, head_dim});
  std::vector<double> expected = op_testing::to_doubles(x);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < rope_dim / 2; ++i) {
        int64_t base = (t * heads + h) * head_dim + head_dim - rope_dim + 2 * i;
        double a = angle[positions.data_as<int32_t>()[t] * rope_dim / 2 + i], x0 = expected[base], x1 = expected[base + 1];
        expected[base] = 1.3 * (x0 * std::cos(a) - x1 * std::sin(a));
        expected[base + 1] = 1.3 * (x0 * std::sin(a) + x1 * std::cos(a));
      }
  ops::rope(x, positions, table);
  EXPECT_LT(op_testing::relative_l2(op_testing::to_doubles(x), expected), 1e-6);
  positions.data_as<int32_t>()[0] = positions_in_table;
  EXPECT_THROW(ops::rope(x, positions, table), Error);
}

TEST(SiluAndMul, MatchesFloat64) {
  RandomSource random;
  SCOPED_TRACE(::testing::Message() << "seed " << random.seed());
  Tensor gate = random.normal_tensor({5, 96}, 3.0f), up = random.normal_tensor({5, 96});
  std::vector<double> expected(gate.numel());
  for (int64_t i = 0; i < gate.numel(); ++i) {
    double g = gate.data_as<float>()[i];
    expected[i] = g / (1.0 + std::exp(-g)) * up.data_as<float>()[i];
  }
  Tensor output = Tensor::empty({5, 96}, DType::kF32);
  ops::silu_and_mul(gate, up, output);
  EXPECT_LT(op_testing::relative_l2(op_testing::to_doubles(output), expected), 1e-6);
}

TEST(GatherRows, ConvertsBf16RowsAndChecksIndices) {
  RandomSource random;
  SCOPED_TRACE(::testing::Message() << "seed " << random.seed());
  Tensor table = random.normal_bf16({20, 16});
  Tensor indices = Tensor::empty({4}, DType::kI32);
  int32_t picks[4] = {19, 0, 7, 7};
  std::copy_n(picks, 4, indices.data_as<int32_t>());
  Tensor output = Tensor::empty({4, 16}, DType::kF32);
  ops::gather_rows(table, indices, output);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 16; ++c)
      EXPECT_EQ(output.data_as<float>()[r * 16 + c], bf16_to_float(table.data_as<bf16>()[picks[r] * 16 + c]));
  indices.data_as<int32_t>()[2] = 20;
  EXPECT_THROW(ops::gather_rows(table, indices, output), Error);
}

TEST(StagedUpload, OnTheCpuCopiesAtOnce) {
  RandomSource random;
  Tensor staging = ops::empty_staging({5, 7}, DType::kF32, Device::kCpu);
  Tensor values = random.normal_tensor({5, 7});
  std::memcpy(staging.data(), values.data(), values.nbytes());
  Tensor destination = Tensor::empty({5, 7}, DType::kF32);
  ops::wait_for_device(Device::kCpu);
  ops::upload(staging, destination);
  EXPECT_EQ(std::memcmp(destination.data(), values.data(), values.nbytes()), 0);
  Tensor too_small = Tensor::empty({4, 7}, DType::kF32);
  EXPECT_THROW(ops::upload(staging, too_small), Error);
}

TEST(CopyAndCast, RoundTripThroughBf16) {
  RandomSource random;
  SCOPED_TRACE(::testing::Message() << "seed " << random.seed());
  Tensor source = random.normal_tensor({3, 10});
  Tensor half = Tensor::empty({3, 10}, DType::kBF16), back = Tensor::empty({3, 10}, DType::kF32);
  ops::cast(source, half);
  ops::cast(half, back);
  for (int i = 0; i < 30; ++i) EXPECT_EQ(back.data_as<float>()[i], bf16_to_float(float_to_bf16(source.data_as<float>()[i])));
  Tensor duplicate = Tensor::empty({3, 10}, DType::kF32);
  ops::copy(source, duplicate);
  EXPECT_EQ(std::memcmp(duplicate.data(), source.data(), source.nbytes()), 0);
  Tensor wrong = Tensor::empty({30}, DType::kF32);
  EXPECT_THROW(ops::copy(source, wrong), Error);
}

TEST(FillRandom, DeterministicInRangeAndSeedDependent) {
  Tensor a = Tensor::empty({1000}, DType::kF32), b = Tensor::empty({1000}, DType::kF32);
  ops::fill_random(a, 42, -0.5f, 0.5f);
  ops::fill_random(b, 42, -0.5f, 0.5f);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.nbytes()), 0);
  std::set<float> distinct;
  double mean = 0.0;
  for (int i = 0; i < 1000; ++i) {
    float value = a.data_as<float>()[i];
    EXPECT_GE(value, -0.5f);
    EXPECT_LT(value, 0.5f);
    EXPECT_EQ(value, -0.5f + ops::random_unit(42, i));  // the documented formula, bit for bit
    distinct.insert(value);
    mean += value / 1000;
  }
  EXPECT_GT(distinct.size(), 990u);
  EXPECT_NEAR(mean, 0.0, 0.05);
  ops::fill_random(b, 43, -0.5f, 0.5f);
  EXPECT_NE(std::memcmp(a.data(), b.data(), a.nbytes()), 0);
  Tensor codes = Tensor::empty({256}, DType::kF8E4M3);
  ops::fill_random(codes, 7, -448.0f, 448.0f);
  for (int i = 0; i < 256; ++i) EXPECT_FALSE(std::isnan(fp8_e4m3_to_float(codes.data_as<fp8_e4m3>()[i])));
}

}  // namespace
}  // namespace dsinfer
