#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/dtype.h"
#include "core/tensor.h"
#include "core/thread_pool.h"

namespace dsinfer {
namespace {

TEST(DType, Bf16RoundTripsAndRoundsToNearestEven) {
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f)), 1.0f);
  EXPECT_EQ(bf16_to_float(float_to_bf16(-3.5f)), -3.5f);
  // 1 + 2^-8 is exactly halfway between bf16 1.0 and 1 + 2^-7: ties go to the even mantissa (1.0).
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f + std::ldexp(1.0f, -8))), 1.0f);
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8))), 1.0f + std::ldexp(1.0f, -6));
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::nanf("")))));
}

TEST(DType, E4m3DecodesEveryCodeAndRoundTrips) {
  EXPECT_EQ(fp8_e4m3_to_float(fp8_e4m3{0x7e}), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_float(fp8_e4m3{0x01}), std::ldexp(1.0f, -9));
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_float(fp8_e4m3{0x7f})));
  for (int code = 0; code < 256; ++code) {
    if ((code & 0x7f) == 0x7f) continue;
    float value = fp8_e4m3_to_float(fp8_e4m3{static_cast<uint8_t>(code)});
    uint8_t back = float_to_fp8_e4m3(value).bits;
    if (value == 0.0f) continue;  // +0 / -0
    EXPECT_EQ(back, code) << value;
  }
  EXPECT_EQ(float_to_fp8_e4m3(1000.0f).bits, 0x7e);  // saturates
  // Halfway between 1.0 (0x38) and 1.125 (0x39): ties to even (0x38).
  EXPECT_EQ(float_to_fp8_e4m3(1.0625f).bits, 0x38);
}

TEST(DType, F16RoundTrips) {
  std::mt19937 random(7);
  std::uniform_real_distribution<float> uniform(-60000.0f, 60000.0f);
  for (int i = 0; i < 1000; ++i) {
    float value = f16_to_float(float_to_f16(uniform(random)));
    EXPECT_EQ(f16_to_float(float_to_f16(value)), value);
  }
  EXPECT_EQ(f16_to_float(float_to_f16(1.0f + std::ldexp(1.0f, -11))), 1.0f);
}

TEST(Tensor, SliceAndReshapeShareMemory) {
  Tensor tensor = Tensor::zeros({4, 6}, DType::kF32);
  Tensor rows = tensor.slice_rows(1, 3);
  rows.data_as<float>()[0] = 5.0f;
  EXPECT_EQ(tensor.data_as<float>()[6], 5.0f);
  EXPECT_EQ(tensor.reshape({-1, 3}).dim(0), 8);
  EXPECT_THROW(tensor.reshape({5, 5}), std::exception);
  EXPECT_THROW(tensor.slice_rows(3, 5), std::exception);
}

TEST(ThreadPool, CoversRangeExactlyOnce) {
  std::vector<int> hits(1000, 0);
  parallel_for(1000, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) hits[i]++;
  });
  for (int hit : hits) EXPECT_EQ(hit, 1);
}

}  // namespace
}  // namespace dsinfer
