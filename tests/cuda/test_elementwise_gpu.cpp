// rms_norm, add_rms_norm, rope, silu_and_mul, gather_rows, mla_cache_write's neighbours and fill_random on
// the GPU against their CPU twins (fresh random inputs, poisoned outputs).
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

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

// A device copy of `host` (F32 values) as `dtype`, starting `offset_elements` into a larger allocation, so that
// an odd offset makes the rows misaligned for 16-byte access (the kernels must then take their scalar path).
Tensor to_gpu_at_offset(const Tensor& host, DType dtype, int64_t offset_elements, std::vector<Tensor>& keep_alive) {
  Tensor converted = cuda::to_host(to_gpu(host, dtype));
  Tensor storage = Tensor::empty({host.numel() + offset_elements}, dtype, Device::kCuda);
  keep_alive.push_back(storage);
  Tensor placed = Tensor::view(static_cast<char*>(storage.data()) + offset_elements * dtype_size(dtype), host.shape(),
                               dtype, Device::kCuda);
  cuda::copy_to_device(converted, placed);
  return placed;
}

// Rows and widths of a decode step (1-8 rows) and of prefill (200 rows): widths that are multiples of 8 take the
// 16-byte vector kernel (1000: a partly idle last warp), others (1001, 36) and misaligned rows the scalar one.
struct NormCase {
  int64_t rows, width;
  DType activation, weight;
  int64_t offset_elements;  // 0: aligned; 1: every row misaligned
};

std::vector<NormCase> norm_cases() {
  std::vector<NormCase> cases;
  for (int64_t rows : {1, 3, 8, 200})
    for (int64_t width : {512, 2048, 7168, 1000, 1001, 36}) cases.push_back({rows, width, DType::kBF16, DType::kBF16, 0});
  cases.push_back({3, 2048, DType::kBF16, DType::kF32, 0});
  cases.push_back({5, 2048, DType::kBF16, DType::kBF16, 1});
  cases.push_back({2, 7168, DType::kBF16, DType::kF32, 1});
  cases.push_back({3, 7168, DType::kF32, DType::kF32, 0});
  cases.push_back({3, 1001, DType::kF32, DType::kBF16, 0});
  return cases;
}

std::string describe(const NormCase& norm_case) {
  std::ostringstream text;
  text << norm_case.rows << " x " << norm_case.width << " " << dtype_name(norm_case.activation) << ", weight "
       << dtype_name(norm_case.weight) << ", offset " << norm_case.offset_elements;
  return text.str();
}

// F32 activations agree with the float32 twin to float32 rounding; BF16 ones to BF16 rounding of the output.
double norm_tolerance(DType activation) { return activation == DType::kF32 ? 1e-5 : 5e-3; }

TEST(RmsNormGpu, MatchesCpuTwinOnVectorAndScalarPathsForDecodeAndPrefillRows) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  for (const NormCase& norm_case : norm_cases()) {
    SCOPED_TRACE(describe(norm_case));
    const int64_t rows = norm_case.rows, width = norm_case.width;
    std::vector<Tensor> keep_alive;
    Tensor input = gpu_testing::normal_f32_bf16_exact(random, {rows, width}, 3.0f);
    Tensor weight = gpu_testing::round_to_bf16(random.normal_tensor({width}));
    Tensor expected = Tensor::empty({rows, width}, DType::kF32);
    ops::rms_norm(input, weight, 1e-6, expected);
    Tensor output = gpu_testing::poisoned({rows, width}, norm_case.activation);
    ops::rms_norm(to_gpu_at_offset(input, norm_case.activation, norm_case.offset_elements, keep_alive),
                  to_gpu_at_offset(weight, norm_case.weight, norm_case.offset_elements, keep_alive), 1e-6, output);
    EXPECT_LT(gpu_testing::worst_row_error(to_cpu_f32(output), expected, width), norm_tolerance(norm_case.activation));
  }
}

TEST(AddRmsNormGpu, RoundsTheResidualSumAndNormalizesItOnVectorAndScalarPaths) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  for (const NormCase& norm_case : norm_cases()) {
    SCOPED_TRACE(describe(norm_case));
    const int64_t rows = norm_case.rows, width = norm_case.width;
    std::vector<Tensor> keep_alive;
    Tensor residual = gpu_testing::normal_f32_bf16_exact(random, {rows, width}, 2.0f);
    Tensor addend = gpu_testing::normal_f32_bf16_exact(random, {rows, width});
    Tensor weight = gpu_testing::round_to_bf16(random.normal_tensor({width}));
    Tensor device_residual = to_gpu_at_offset(residual, norm_case.activation, norm_case.offset_elements, keep_alive);
    Tensor device_addend = to_gpu_at_offset(addend, norm_case.activation, norm_case.offset_elements, keep_alive);
    Tensor expected = Tensor::empty({rows, width}, DType::kF32);
    ops::add_rms_norm(residual, addend, weight, 1e-6, expected);  // residual: the float sums
    Tensor output = gpu_testing::poisoned({rows, width}, norm_case.activation);
    ops::add_rms_norm(device_residual, device_addend,
                      to_gpu_at_offset(weight, norm_case.weight, norm_case.offset_elements, keep_alive), 1e-6, output);
    EXPECT_LT(gpu_testing::worst_row_error(to_cpu_f32(output), expected, width), norm_tolerance(norm_case.activation));
    // The stored sum is the float sum of the same inputs, rounded once to the residual's dtype: bit for bit.
    Tensor expected_residual = norm_case.activation == DType::kBF16 ? gpu_testing::round_to_bf16(residual) : residual;
    Tensor actual_residual = to_cpu_f32(device_residual);
    int64_t differing = 0;
    for (int64_t i = 0; i < residual.numel(); ++i)
      differing += actual_residual.data_as<float>()[i] != expected_residual.data_as<float>()[i];
    EXPECT_EQ(differing, 0) << "residual elements off the rounded float sum";
  }
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
