// rms_norm, add_rms_norm, rope, silu_and_mul, gather_rows, mla_cache_write's neighbours and fill_random on
// the GPU against their CPU twins (fresh random inputs, poisoned outputs).
#include <gtest/gtest.h>

#include <cmath>

#include "gpu_testing.h"
#include "ops/add_rms_norm.h"
#include "ops/fill_random.h"
#include "ops/gather_rows.h"
#include "ops/rms_norm.h"
#include "ops/rope.h"
#include "ops/silu_and_mul.h"

namespace dsinfer {
namespace {

using gpu_testing::RandomSource;
using gpu_testing::to_cpu_f32;
using gpu_testing::to_gpu;

TEST(RmsNormGpu, MatchesCpuTwinForNarrowAndDeepSeekWidths) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  for (int64_t width : {16, 192, 512, 2048, 7168}) {
    Tensor input = gpu_testing::normal_f32_bf16_exact(random, {11, width}, 3.0f);
    Tensor weight = random.normal_bf16({width});
    Tensor expected = Tensor::empty({11, width}, DType::kF32);
    ops::rms_norm(input, weight, 1e-6, expected);
    Tensor output = gpu_testing::poisoned({11, width}, DType::kBF16);
    ops::rms_norm(to_gpu(input, DType::kBF16), to_gpu(weight), 1e-6, output);
    EXPECT_LT(gpu_testing::worst_row_error(to_cpu_f32(output), expected, width), 5e-3) << width;
  }
}

TEST(AddRmsNormGpu, UpdatesTheResidualAndNormalizesTheSum) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  const int64_t rows = 7, width = 2048;
  Tensor residual = gpu_testing::normal_f32_bf16_exact(random, {rows, width}, 2.0f);
  Tensor addend = gpu_testing::normal_f32_bf16_exact(random, {rows, width});
  Tensor weight = random.normal_tensor({width});
  Tensor device_residual = to_gpu(residual, DType::kBF16), device_addend = to_gpu(addend, DType::kBF16);
  Tensor expected = Tensor::empty({rows, width}, DType::kF32);
  ops::add_rms_norm(residual, addend, weight, 1e-6, expected);
  Tensor output = gpu_testing::poisoned({rows, width}, DType::kBF16);
  ops::add_rms_norm(device_residual, device_addend, to_gpu(weight), 1e-6, output);
  EXPECT_LT(gpu_testing::worst_row_error(to_cpu_f32(output), expected, width), 5e-3);
  EXPECT_LT(gpu_testing::worst_row_error(to_cpu_f32(device_residual), residual, width), 5e-3);
}

TEST(RopeGpu, RotatesTheTrailingPairsLikeTheCpu) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  for (auto [heads, head_dim, rope_dim] : {std::tuple{4, 96, 32}, std::tuple{16, 192, 64}, std::tuple{1, 64, 64}}) {
    const int64_t tokens = 13, max_positions = 5000;
    Tensor x = gpu_testing::normal_f32_bf16_exact(random, {tokens, heads, head_dim});
    Tensor cos_sin = Tensor::empty({max_positions, rope_dim}, DType::kF32);
    for (int64_t p = 0; p < max_positions; ++p)
      for (int64_t i = 0; i < rope_dim / 2; ++i) {
        double angle = p * std::pow(10000.0, -2.0 * i / rope_dim);
        cos_sin.data_as<float>()[p * rope_dim + i] = static_cast<float>(std::cos(angle) * 1.2);
        cos_sin.data_as<float>()[p * rope_dim + rope_dim / 2 + i] = static_cast<float>(std::sin(angle) * 1.2);
      }
    Tensor positions = Tensor::empty({tokens}, DType::kI32);
    for (int64_t t = 0; t < tokens; ++t) positions.data_as<int32_t>()[t] = random.integer(0, max_positions - 1);
    Tensor device_x = to_gpu(x, DType::kBF16);
    ops::rope(x, positions, cos_sin);
    ops::rope(device_x, to_gpu(positions), to_gpu(cos_sin));
    EXPECT_LT(gpu_testing::worst_row_error(to_cpu_f32(device_x), x, head_dim), 8e-3);
  }
}

TEST(SiluAndMulGpu, MatchesCpuTwinAlsoInPlace) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  Tensor gate = gpu_testing::normal_f32_bf16_exact(random, {9, 1408}, 3.0f);
  Tensor up = gpu_testing::normal_f32_bf16_exact(random, {9, 1408});
  Tensor expected = Tensor::empty({9, 1408}, DType::kF32);
  ops::silu_and_mul(gate, up, expected);
  Tensor device_gate = to_gpu(gate, DType::kBF16);
  ops::silu_and_mul(device_gate, to_gpu(up, DType::kBF16), device_gate);
  EXPECT_LT(gpu_testing::worst_row_error(to_cpu_f32(device_gate), expected, 1408), 5e-3);
}

TEST(GatherRowsGpu, LooksUpEmbeddingRows) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  Tensor table = random.normal_bf16({1000, 160});
  Tensor indices = Tensor::empty({37}, DType::kI32);
  for (int i = 0; i < 37; ++i) indices.data_as<int32_t>()[i] = random.integer(0, 999);
  Tensor expected = Tensor::empty({37, 160}, DType::kF32);
  ops::gather_rows(table, indices, expected);
  Tensor output = gpu_testing::poisoned({37, 160}, DType::kBF16);
  ops::gather_rows(to_gpu(table), to_gpu(indices), output);
  Tensor actual = to_cpu_f32(output);
  for (int64_t i = 0; i < expected.numel(); ++i) ASSERT_EQ(actual.data_as<float>()[i], expected.data_as<float>()[i]);
}

TEST(FillRandomGpu, SameValuesAsTheCpuBitForBit) {
  DSINFER_REQUIRE_GPU();
  for (DType dtype : {DType::kF32, DType::kBF16, DType::kF8E4M3}) {
    const int64_t count = 100003;
    Tensor expected = Tensor::empty({count}, dtype);
    ops::fill_random(expected, 1234, -0.3f, 0.7f);
    Tensor device = gpu_testing::poisoned({count}, dtype);
    ops::fill_random(device, 1234, -0.3f, 0.7f);
    Tensor actual = cuda::to_host(device);
    EXPECT_EQ(std::memcmp(actual.data(), expected.data(), expected.nbytes()), 0) << dtype_name(dtype);
  }
}

}  // namespace
}  // namespace dsinfer
