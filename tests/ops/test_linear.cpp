// linear (BF16, F32, FP8 block-scaled with partial edge blocks, W8A8) and the per-token-group FP8 quantizer,
// against float64 references on fresh random data.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "ops/linear.h"
#include "ops/quantize_fp8.h"
#include "random_tensors.h"

namespace dsinfer {
namespace {

using op_testing::RandomSource;

// Reference W8A8 activation rounding, gen.py's `aq`: scale = max(amax / 448, 1e-10) in float64, the quotient
// rounded to float32 and then to e4m3 (round-to-nearest-even), times the scale in float64.
std::vector<double> fake_quantize_reference(const Tensor& input) {
  const int64_t rows = input.dim(0), columns = input.dim(1);
  std::vector<double> result(static_cast<size_t>(rows * columns));
  for (int64_t t = 0; t < rows; ++t) {
    for (int64_t begin = 0; begin < columns; begin += 128) {
      int64_t end = std::min<int64_t>(columns, begin + 128);
      double amax = 0.0;
      for (int64_t k = begin; k < end; ++k) amax = std::max(amax, std::fabs(double{input.data_as<float>()[t * columns + k]}));
      double scale = std::max(amax / 448.0, 1e-10);
      for (int64_t k = begin; k < end; ++k) {
        float quotient = static_cast<float>(input.data_as<float>()[t * columns + k] / scale);
        result[t * columns + k] = fp8_e4m3_to_float(float_to_fp8_e4m3(quotient)) * scale;
      }
    }
  }
  return result;
}

std::vector<double> linear_reference(const std::vector<double>& input, int64_t rows, const ops::LinearWeight& weight) {
  const int64_t n_out = weight.out_features(), k_in = weight.in_features();
  std::vector<double> result(static_cast<size_t>(rows * n_out), 0.0);
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t n = 0; n < n_out; ++n) {
      double sum = 0.0;
      for (int64_t k = 0; k < k_in; ++k) sum += input[t * k_in + k] * op_testing::weight_value(weight, n, k);
      result[t * n_out + n] = sum;
    }
  return result;
}

struct LinearCase {
  int64_t rows, out_features, in_features;
};
void PrintTo(const LinearCase& shape, std::ostream* out) {
  *out << "T=" << shape.rows << " N=" << shape.out_features << " K=" << shape.in_features;
}

class LinearTest : public ::testing::TestWithParam<LinearCase> {};

TEST_P(LinearTest, Bf16AndF32WeightsMatchFloat64) {
  RandomSource random;
  SCOPED_TRACE(::testing::Message() << "seed " << random.seed());
  const LinearCase shape = GetParam();
  Tensor input = random.normal_tensor({shape.rows, shape.in_features});
  for (bool bf16 : {true, false}) {
    ops::LinearWeight weight;
    weight.weight = bf16 ? random.normal_bf16({shape.out_features, shape.in_features}, 0.1f)
                         : random.normal_tensor({shape.out_features, shape.in_features}, 0.1f);
    Tensor output = Tensor::empty({shape.rows, shape.out_features}, DType::kF32);
    ops::linear(input, weight, output);
    auto expected = linear_reference(op_testing::to_doubles(input), shape.rows, weight);
    EXPECT_LT(op_testing::relative_l2(op_testing::to_doubles(output), expected), 1e-6) << (bf16 ? "BF16" : "F32");
  }
}

TEST_P(LinearTest, Fp8BlockWeightsMatchFloat64WithAndWithoutActivationQuantization) {
  RandomSource random;
  SCOPED_TRACE(::testing::Message() << "seed " << random.seed());
  const LinearCase shape = GetParam();
  Tensor input = random.normal_tensor({shape.rows, shape.in_features});
  // Rows of very different magnitude so that per-block scales matter.
  Tensor dense = random.normal_tensor({shape.out_features, shape.in_features}, 0.1f);
  for (int64_t n = 0; n < shape.out_features; ++n)
    for (int64_t k = 0; k < shape.in_features; ++k) dense.data_as<float>()[n * shape.in_features + k] *= 1 + n % 7;
  ops::LinearWeight weight = op_testing::quantize_weight_blocks(dense);
  Tensor output = Tensor::empty({shape.rows, shape.out_features}, DType::kF32);

  ops::linear(input, weight, output, /*quantize_activations=*/false);
  auto expected = linear_reference(op_testing::to_doubles(input), shape.rows, weight);
  EXPECT_LT(op_testing::relative_l2(op_testing::to_doubles(output), expected), 1e-6);

  ops::linear(input, weight, output, /*quantize_activations=*/true);
  auto expected_w8a8 = linear_reference(fake_quantize_reference(input), shape.rows, weight);
  EXPECT_LT(op_testing::relative_l2(op_testing::to_doubles(output), expected_w8a8), 1e-6);
  if (shape.rows > 0) {  // activation quantization must actually change the result (a few % for e4m3)
    double w8a8_shift = op_testing::relative_l2(expected_w8a8, expected);
    EXPECT_GT(w8a8_shift, 1e-3);
    EXPECT_LT(w8a8_shift, 0.1);
  }
}

// Sizes that leave partial 128-blocks along N and K (as 96, 160, 192, 384 do in the FP8 fixture), a single
// decode row, and zero rows.
INSTANTIATE_TEST_SUITE_P(Shapes, LinearTest,
                         ::testing::Values(LinearCase{1, 96, 256}, LinearCase{7, 200, 300}, LinearCase{33, 384, 160},
                                           LinearCase{0, 64, 64}, LinearCase{5, 129, 129}));

TEST(Linear, RejectsMismatchedShapesNamingThem) {
  ops::LinearWeight weight;
  weight.weight = Tensor::zeros({8, 16}, DType::kBF16);
  Tensor input = Tensor::zeros({2, 15}, DType::kF32);
  Tensor output = Tensor::zeros({2, 8}, DType::kF32);
  try {
    ops::linear(input, weight, output);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("F32[2, 15]"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("BF16[8, 16]"), std::string::npos) << error.what();
  }
  ops::LinearWeight fp8;
  fp8.weight = Tensor::zeros({8, 16}, DType::kF8E4M3);
  Tensor good_input = Tensor::zeros({2, 16}, DType::kF32);
  EXPECT_THROW(ops::linear(good_input, fp8, output), Error);  // FP8 without scale_inv
}

TEST(QuantizeFp8, CodesScalesAndRoundTripOnPartialGroups) {
  RandomSource random;
  SCOPED_TRACE(::testing::Message() << "seed " << random.seed());
  const int64_t tokens = 5, columns = 300;  // groups of 128, 128, 44
  Tensor input = random.normal_tensor({tokens, columns}, 3.0f);
  for (int64_t k = 128; k < 256; ++k) input.data_as<float>()[2 * columns + k] = 0.0f;  // an all-zero group
  Tensor codes = Tensor::empty({tokens, columns}, DType::kF8E4M3);
  Tensor scales = Tensor::empty({3, tokens}, DType::kF32);
  ops::quantize_fp8_per_token_group(input, codes, scales);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t g = 0; g < 3; ++g) {
      int64_t begin = g * 128, end = std::min<int64_t>(columns, begin + 128);
      float amax = 0.0f;
      for (int64_t k = begin; k < end; ++k) amax = std::max(amax, std::fabs(input.data_as<float>()[t * columns + k]));
      const double exact_scale = std::max(static_cast<double>(amax) / 448.0, 1e-10);
      float scale = scales.data_as<float>()[g * tokens + t];  // K-block-major
      EXPECT_EQ(scale, static_cast<float>(exact_scale)) << "token " << t << " group " << g;
      for (int64_t k = begin; k < end; ++k) {
        float value = input.data_as<float>()[t * columns + k];
        float decoded = fp8_e4m3_to_float(codes.data_as<fp8_e4m3>()[t * columns + k]);
        EXPECT_EQ(codes.data_as<fp8_e4m3>()[t * columns + k].bits,
                  float_to_fp8_e4m3(static_cast<float>(value / exact_scale)).bits);
        // e4m3 keeps 3 mantissa bits: error at most half a step, 1/16 relative (or the subnormal step).
        EXPECT_LE(std::fabs(decoded * scale - value), std::max(std::fabs(value) / 16.0f, scale * 0x1p-10f) * 1.0001f);
        if (std::fabs(value) == amax && amax > 0) {
          EXPECT_EQ(std::fabs(decoded), 448.0f);
        }
      }
    }
  }
  EXPECT_EQ(scales.data_as<float>()[1 * tokens + 2], 1e-10f);
}

}  // namespace
}  // namespace dsinfer
