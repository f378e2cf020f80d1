// FP8 per-token-group quantization (bit-exact against the CPU twin) and the linear ops (linear, linear_pair,
// silu_gated_linear) with BF16 and block-scaled FP8 weights (CPU twin with W8A8 emulation) over the shapes that
// take each GPU path: the skinny kernel (up to 8 rows; one projection, a pair, the gated form), cuBLASLt with
// padded rows and padded weight-scale rows, partial 128-blocks, and F32 activations.
#include <gtest/gtest.h>

#include <cstdio>
#include <tuple>

#include "gpu_testing.h"
#include "kernels/sm90/moe/grouped_gemm.h"
#include "ops/gated_linear.h"
#include "ops/linear.h"
#include "ops/linear_pair.h"
#include "ops/quantize_fp8.h"

namespace dsinfer {
namespace {

using gpu_testing::random_linear_weight;
using gpu_testing::RandomSource;
using gpu_testing::to_gpu;

TEST(QuantizeFp8Gpu, MatchesTheCpuTwinBitForBit) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  for (auto [tokens, columns] : {std::pair{1, 16}, {3, 96}, {5, 200}, {64, 384}, {7, 7168}}) {
    SCOPED_TRACE(testing::Message() << tokens << " x " << columns);
    Tensor input = gpu_testing::normal_f32_bf16_exact(random, {tokens, columns}, random.uniform(0.01f, 50.0f));
    if (tokens > 2)
      for (int64_t c = 0; c < columns; ++c) input.data_as<float>()[columns + c] = 0.0f;  // an all-zero row: scale floor
    const int64_t groups = (columns + 127) / 128;
    Tensor codes = Tensor::empty({tokens, columns}, DType::kF8E4M3), scales = Tensor::empty({groups, tokens}, DType::kF32);
    ops::quantize_fp8_per_token_group(input, codes, scales);
    Tensor device_codes = gpu_testing::poisoned({tokens, columns}, DType::kF8E4M3);
    Tensor device_scales = gpu_testing::poisoned({groups, tokens}, DType::kF32);
    Tensor device_input = gpu_testing::to_gpu(input, DType::kBF16);
    ops::quantize_fp8_per_token_group(device_input, device_codes, device_scales);
    Tensor gpu_codes = cuda::to_host(device_codes), gpu_scales = cuda::to_host(device_scales);
    for (int64_t i = 0; i < codes.numel(); ++i)
      ASSERT_EQ(gpu_codes.data_as<uint8_t>()[i], codes.data_as<uint8_t>()[i]) << "element " << i;
    for (int64_t i = 0; i < scales.numel(); ++i)
      ASSERT_EQ(gpu_scales.data_as<float>()[i], scales.data_as<float>()[i]) << "scale " << i;
  }
}

// (tokens, out_features, in_features)
class LinearGpuTest : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(LinearGpuTest, Bf16WeightMatchesCpuTwin) {
  DSINFER_REQUIRE_GPU();
  auto [tokens, n, k] = GetParam();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  Tensor input = gpu_testing::normal_f32_bf16_exact(random, {tokens, k});
  ops::LinearWeight weight;
  weight.weight = random.normal_bf16({n, k}, 0.05f);
  Tensor expected = Tensor::empty({tokens, n}, DType::kF32);
  ops::linear(input, weight, expected);
  ops::LinearWeight device_weight;
  device_weight.weight = gpu_testing::to_gpu(weight.weight);
  Tensor device_input = gpu_testing::to_gpu(input, DType::kBF16);
  for (DType output_dtype : {DType::kBF16, DType::kF32}) {
    Tensor output = gpu_testing::poisoned({tokens, n}, output_dtype);
    ops::linear(device_input, device_weight, output);
    EXPECT_LT(gpu_testing::worst_row_error(gpu_testing::to_cpu_f32(output), expected, n),
              output_dtype == DType::kF32 ? 1e-4 : 8e-3)
        << dtype_name(output_dtype);
  }
}

TEST_P(LinearGpuTest, Fp8BlockWeightMatchesCpuTwinWithW8A8) {
  DSINFER_REQUIRE_GPU();
  auto [tokens, n, k] = GetParam();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  Tensor input = gpu_testing::normal_f32_bf16_exact(random, {tokens, k}, 3.0f);
  ops::LinearWeight weight = op_testing::quantize_weight_blocks(random.normal_tensor({n, k}, 0.05f));
  // Vary the block scales so that a misplaced scale shows.
  for (int64_t i = 0; i < weight.scale_inv.numel(); ++i) weight.scale_inv.data_as<float>()[i] *= random.uniform(0.5f, 2.0f);
  Tensor expected = Tensor::empty({tokens, n}, DType::kF32);
  ops::linear(input, weight, expected, /*quantize_activations=*/true);
  ops::LinearWeight device_weight = weight;
  device_weight.weight = gpu_testing::to_gpu(weight.weight);
  device_weight.scale_inv = gpu_testing::to_gpu(weight.scale_inv);
  Tensor output = gpu_testing::poisoned({tokens, n}, DType::kBF16);
  ops::linear(gpu_testing::to_gpu(input, DType::kBF16), device_weight, output, true);
  EXPECT_LT(gpu_testing::worst_row_error(gpu_testing::to_cpu_f32(output), expected, n), 8e-3);
}

// F32 activations (the F32-activation mode): inputs not representable in BF16, F32 output, every product on
// the CUDA cores in float32, so the GPU agrees with the float32 CPU twin to float32 rounding. The FP8 case
// quantizes the same F32 values to the same codes on both sides (W8A8).
TEST_P(LinearGpuTest, F32ActivationsMatchCpuTwinToFloat32Rounding) {
  DSINFER_REQUIRE_GPU();
  auto [tokens, n, k] = GetParam();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  Tensor input = random.normal_tensor({tokens, k}, 2.0f);
  ops::LinearWeight bf16_weight;
  bf16_weight.weight = random.normal_bf16({n, k}, 0.05f);
  ops::LinearWeight fp8_weight = op_testing::quantize_weight_blocks(random.normal_tensor({n, k}, 0.05f));
  for (const ops::LinearWeight* weight : {&bf16_weight, &fp8_weight}) {
    SCOPED_TRACE(dtype_name(weight->weight.dtype()));
    Tensor expected = Tensor::empty({tokens, n}, DType::kF32);
    ops::linear(input, *weight, expected, /*quantize_activations=*/true);
    ops::LinearWeight device_weight = *weight;
    device_weight.weight = gpu_testing::to_gpu(weight->weight);
    if (weight->is_fp8()) device_weight.scale_inv = gpu_testing::to_gpu(weight->scale_inv);
    Tensor output = gpu_testing::poisoned({tokens, n}, DType::kF32);
    ops::linear(gpu_testing::to_gpu(input), device_weight, output, true);
    EXPECT_LT(gpu_testing::worst_row_error(gpu_testing::to_cpu_f32(output), expected, n), 1e-5);
  }
}

// Two projections of one input (q_proj / q_a_proj with kv_a_proj_with_mqa): one skinny launch up to 8 rows when
// both weights share a dtype, two GEMMs otherwise (the FP8 fixture's kv_a_proj_with_mqa is BF16 beside an FP8
// q_a_proj); N1 not a multiple of 16 leaves a partial feature block in the second projection.
TEST_P(LinearGpuTest, PairMatchesTwoCpuLinears) {
  DSINFER_REQUIRE_GPU();
  auto [tokens, n, k] = GetParam();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  const int64_t second_n = 72;
  Tensor input = gpu_testing::normal_f32_bf16_exact(random, {tokens, k}, 2.0f);
  for (auto [first_fp8, second_fp8] : {std::pair{false, false}, {true, true}, {true, false}}) {
    SCOPED_TRACE(testing::Message() << (first_fp8 ? "FP8" : "BF16") << " + " << (second_fp8 ? "FP8" : "BF16"));
    ops::LinearWeight first = random_linear_weight(random, n, k, first_fp8);
    ops::LinearWeight second = random_linear_weight(random, second_n, k, second_fp8);
    Tensor expected_first = Tensor::empty({tokens, first.out_features()}, DType::kF32);
    Tensor expected_second = Tensor::empty({tokens, second.out_features()}, DType::kF32);
    ops::linear(input, first, expected_first, true);
    ops::linear(input, second, expected_second, true);
    Tensor output_first = gpu_testing::poisoned({tokens, first.out_features()}, DType::kBF16);
    Tensor output_second = gpu_testing::poisoned({tokens, second.out_features()}, DType::kBF16);
    ops::linear_pair(gpu_testing::to_gpu(input, DType::kBF16), to_gpu(first), to_gpu(second), output_first,
                     output_second, true);
    EXPECT_LT(gpu_testing::worst_row_error(gpu_testing::to_cpu_f32(output_first), expected_first, first.out_features()),
              8e-3);
    EXPECT_LT(gpu_testing::worst_row_error(gpu_testing::to_cpu_f32(output_second), expected_second,
                                           second.out_features()),
              8e-3);
  }
}

// silu(x . gate^T) * (x . up^T): the skinny kernel's gated epilogue up to 8 rows, two GEMMs and silu_and_mul above.
TEST_P(LinearGpuTest, SiluGatedMatchesCpuTwin) {
  DSINFER_REQUIRE_GPU();
  auto [tokens, n, k] = GetParam();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  Tensor input = gpu_testing::normal_f32_bf16_exact(random, {tokens, k}, 2.0f);
  for (bool fp8 : {false, true}) {
    SCOPED_TRACE(fp8 ? "FP8" : "BF16");
    ops::LinearWeight gate = random_linear_weight(random, n, k, fp8), up = random_linear_weight(random, n, k, fp8);
    Tensor expected = Tensor::empty({tokens, n}, DType::kF32);
    ops::silu_gated_linear(input, gate, up, expected, fp8);
    Tensor output = gpu_testing::poisoned({tokens, n}, DType::kBF16);
    ops::silu_gated_linear(gpu_testing::to_gpu(input, DType::kBF16), to_gpu(gate), to_gpu(up), output, fp8);
    EXPECT_LT(gpu_testing::worst_row_error(gpu_testing::to_cpu_f32(output), expected, n), 1e-2);
  }
}

// The tiled FP8 kernel as a plain GEMM (one group): linear's path for shapes cuBLASLt rejects.
TEST(TiledFp8Gemm, OneGroupMatchesCpuTwinIncludingPartialBlocks) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  for (auto [tokens, n, k] : {std::tuple{45, 160, 96}, std::tuple{200, 384, 256}, std::tuple{33, 2112, 7168}}) {
    Tensor input = gpu_testing::normal_f32_bf16_exact(random, {tokens, k}, 2.0f);
    ops::LinearWeight weight = op_testing::quantize_weight_blocks(random.normal_tensor({n, k}, 0.05f));
    Tensor expected = Tensor::empty({tokens, n}, DType::kF32);
    ops::linear(input, weight, expected, true);
    const int64_t groups = (k + 127) / 128;
    Tensor codes = gpu_testing::poisoned({tokens, k}, DType::kF8E4M3), scales = gpu_testing::poisoned({groups, tokens}, DType::kF32);
    ops::quantize_fp8_per_token_group(gpu_testing::to_gpu(input, DType::kBF16), codes, scales);
    Tensor device_weight = gpu_testing::to_gpu(weight.weight), device_scales = gpu_testing::to_gpu(weight.scale_inv);
    Tensor output = gpu_testing::poisoned({tokens, n}, DType::kBF16);
    cuda::GroupedGemmParams gemm{};
    gemm.a = codes.data();
    gemm.a_scales = scales.data_as<float>();
    gemm.a_scales_stride = tokens;
    gemm.weight0 = device_weight.data();
    gemm.weight0_scales = device_scales.data_as<float>();
    gemm.experts = 1;
    gemm.rows = tokens;
    gemm.n = n;
    gemm.k = k;
    gemm.out = output.data();
    cuda::grouped_gemm(gemm, true, false, cuda::current_stream());
    // Independent float64 reference from the device's own codes and scales: isolates the GEMM kernel.
    Tensor host_codes = cuda::to_host(codes), host_scales = cuda::to_host(scales);
    Tensor exact = Tensor::empty({tokens, n}, DType::kF32);
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0.0;
        for (int64_t c = 0; c < k; ++c)
          sum += fp8_e4m3_to_float(host_codes.data_as<fp8_e4m3>()[t * k + c]) *
                 host_scales.data_as<float>()[(c / 128) * tokens + t] * op_testing::weight_value(weight, j, c);
        exact.data_as<float>()[t * n + j] = static_cast<float>(sum);
      }
    Tensor actual = gpu_testing::to_cpu_f32(output);
    const double kernel_error = gpu_testing::worst_row_error(actual, exact, n);
    const double twin_error = gpu_testing::worst_row_error(expected, exact, n);
    std::printf("tiled FP8 GEMM %lld x %lld x %lld: kernel vs float64 %.2e, CPU twin vs float64 %.2e\n",
                static_cast<long long>(tokens), static_cast<long long>(n), static_cast<long long>(k), kernel_error,
                twin_error);
    EXPECT_LT(kernel_error, 4e-3) << n << " x " << k;
    EXPECT_LT(gpu_testing::worst_row_error(actual, expected, n), 8e-3) << n << " x " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, LinearGpuTest,
    ::testing::Values(std::tuple{1, 160, 256}, std::tuple{3, 256, 96}, std::tuple{8, 384, 192},
                      std::tuple{9, 160, 256},     // cuBLASLt with rows padded to 12, 2 weight-scale blocks per row
                      std::tuple{64, 512, 128},    // rows a multiple of 4, one K block padded to 4
                      std::tuple{33, 2112, 7168},  // DeepSeek-V3 fused q_a + kv_a
                      std::tuple{2, 7168, 2304},   // V3 TP8 dense down_proj: 18 K blocks
                      std::tuple{128, 1408, 2048}),
    [](const auto& info) {
      return "t" + std::to_string(std::get<0>(info.param)) + "_n" + std::to_string(std::get<1>(info.param)) + "_k" +
             std::to_string(std::get<2>(info.param));
    });

}  // namespace
}  // namespace dsinfer
