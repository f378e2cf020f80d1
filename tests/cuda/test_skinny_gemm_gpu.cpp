// The skinny GEMM kernel called directly in each form (one projection, a pair, the gated pair, grouped by expert
// with an empty expert and more than 8 rows for one expert), BF16 and block-scaled FP8, over K lengths that take
// one pipeline chunk or several (more chunks than stages, a partial last chunk and a partial last 128-byte
// block), against the CPU twin (ops::linear / silu_gated_linear, W8A8 emulation for FP8) on fresh random data.
#include <gtest/gtest.h>

#include <tuple>
#include <vector>

#include "gpu_testing.h"
#include "kernels/sm90/gemm/skinny_gemm.h"
#include "ops/gated_linear.h"
#include "ops/linear.h"
#include "ops/quantize_fp8.h"

namespace dsinfer {
namespace {

using gpu_testing::random_linear_weight;
using gpu_testing::RandomSource;
using gpu_testing::to_gpu;

// The kernel's A operand for `input` [rows, k] (BF16-exact F32 on the host): BF16 rows, or e4m3 codes with
// their 1x128 group scales [ceil(k / 128)][rows]. The tensors stay alive in the struct.
struct DeviceRows {
  Tensor values, codes, scales;
  DeviceRows(const Tensor& input, bool fp8) {
    values = gpu_testing::to_gpu(input, DType::kBF16);
    if (!fp8) return;
    const int64_t rows = input.dim(0), k = input.dim(1);
    codes = gpu_testing::poisoned({rows, k}, DType::kF8E4M3);
    scales = gpu_testing::poisoned({(k + 127) / 128, rows}, DType::kF32);
    ops::quantize_fp8_per_token_group(values, codes, scales);
  }
  void fill(cuda::SkinnyGemmParams& params, bool fp8) const {
    params.a = fp8 ? codes.data() : values.data();
    if (fp8) {
      params.a_scales = scales.data_as<float>();
      params.a_scales_stride = values.dim(0);
    }
  }
};

cuda::SkinnyProjection projection_of(const ops::LinearWeight& device_weight, Tensor& output) {
  cuda::SkinnyProjection projection{};
  projection.weight = device_weight.weight.data();
  if (device_weight.is_fp8()) {
    projection.scales = device_weight.scale_inv.data_as<float>();
    projection.scale_row_length = device_weight.scale_inv.dim(1);
  }
  projection.n = device_weight.out_features();
  projection.out = output.data();
  projection.out_f32 = output.dtype() == DType::kF32;
  return projection;
}

constexpr double kBound = 1e-2;  // BF16 output against the float32 twin (the ops' own tests use 8e-3 / 1e-2)

// (rows, k): k not a multiple of 128 bytes leaves a partial K block; n = 200 leaves partial feature blocks.
class SkinnyFormsTest : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(SkinnyFormsTest, EachFormMatchesTheCpuTwin) {
  DSINFER_REQUIRE_GPU();
  auto [rows, k] = GetParam();
  const int64_t n = 200, second_n = 72;
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed() << ", rows " << rows << ", k " << k);
  Tensor input = gpu_testing::normal_f32_bf16_exact(random, {rows, k}, 2.0f);
  for (bool fp8 : {false, true}) {
    SCOPED_TRACE(fp8 ? "FP8" : "BF16");
    const ops::LinearWeight first = random_linear_weight(random, n, k, fp8), second = random_linear_weight(random, second_n, k, fp8);
    const ops::LinearWeight device_first = to_gpu(first), device_second = to_gpu(second);
    Tensor expected_first = Tensor::empty({rows, n}, DType::kF32), expected_second = Tensor::empty({rows, second_n}, DType::kF32);
    Tensor expected_gated = Tensor::empty({rows, n}, DType::kF32);
    ops::linear(input, first, expected_first, fp8);
    ops::linear(input, second, expected_second, fp8);
    ops::LinearWeight up = random_linear_weight(random, n, k, fp8);
    ops::silu_gated_linear(input, first, up, expected_gated, fp8);
    const ops::LinearWeight device_up = to_gpu(up);
    const DeviceRows device_rows(input, fp8);
    {
      cuda::SkinnyGemmParams params{};
      device_rows.fill(params, fp8);
      params.k = k;
      params.rows = rows;
      // one projection
      Tensor output = gpu_testing::poisoned({rows, n}, DType::kBF16);
      params.projections[0] = projection_of(device_first, output);
      params.projection_count = 1;
      cuda::skinny_gemm(params, fp8, cuda::current_stream());
      EXPECT_LT(gpu_testing::worst_row_error(gpu_testing::to_cpu_f32(output), expected_first, n), kBound) << "single";
      // a pair, the second into F32
      Tensor output_first = gpu_testing::poisoned({rows, n}, DType::kBF16);
      Tensor output_second = gpu_testing::poisoned({rows, second_n}, DType::kF32);
      params.projections[0] = projection_of(device_first, output_first);
      params.projections[1] = projection_of(device_second, output_second);
      params.projection_count = 2;
      cuda::skinny_gemm(params, fp8, cuda::current_stream());
      EXPECT_LT(gpu_testing::worst_row_error(gpu_testing::to_cpu_f32(output_first), expected_first, n), kBound) << "pair 1";
      EXPECT_LT(gpu_testing::worst_row_error(gpu_testing::to_cpu_f32(output_second), expected_second, second_n),
                fp8 ? 2e-3 : 1e-4)
          << "pair 2";
      // gated: silu(x . first^T) * (x . up^T)
      Tensor gated = gpu_testing::poisoned({rows, n}, DType::kBF16);
      params.projections[0] = projection_of(device_first, gated);
      params.projections[1] = projection_of(device_up, gated);
      params.gated = true;
      cuda::skinny_gemm(params, fp8, cuda::current_stream());
      params.gated = false;
      EXPECT_LT(gpu_testing::worst_row_error(gpu_testing::to_cpu_f32(gated), expected_gated, n), kBound) << "gated";
    }
  }
}

// k (BF16 rows are 2k bytes, FP8 rows k; a chunk is 1 KB of each row, 4 chunks in flight): 2048 (BF16: 4
// chunks), 1008 (a partial 128-byte block), 4112 (BF16: 9 chunks, more than the stages, the last one partial),
// 112 (less than one block), 10944 (V2-Lite's dense down_proj: 22 chunks).
INSTANTIATE_TEST_SUITE_P(Shapes, SkinnyFormsTest,
                         ::testing::Values(std::tuple{1, 2048}, std::tuple{5, 1008}, std::tuple{8, 4112},
                                           std::tuple{3, 112}, std::tuple{2, 10944}),
                         [](const auto& info) {
                           return "t" + std::to_string(std::get<0>(info.param)) + "_k" +
                                  std::to_string(std::get<1>(info.param));
                         });

// Grouped by expert: expert 0 has 3 rows, expert 1 none, expert 2 has 11 (two passes of 8), with rows read
// through a_row_slots; each expert's rows against its own weight.
TEST(SkinnyGrouped, MatchesTheCpuTwinPerExpert) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  const int64_t k = 1536, n = 136, experts = 3, rows = 14;
  const std::vector<int32_t> offsets = {0, 3, 3, 14}, active = {0, 2, 0, 2};  // [experts + 1]; count last
  std::vector<int32_t> slots(rows);
  for (int64_t r = 0; r < rows; ++r) slots[r] = static_cast<int32_t>((r * 5) % rows);  // a permutation of the rows
  Tensor input = gpu_testing::normal_f32_bf16_exact(random, {rows, k}, 2.0f);
  Tensor slot_tensor = Tensor::empty({rows}, DType::kI32), offset_tensor = Tensor::empty({experts + 1}, DType::kI32);
  Tensor active_tensor = Tensor::empty({experts + 1}, DType::kI32);
  for (int64_t i = 0; i < rows; ++i) slot_tensor.data_as<int32_t>()[i] = slots[i];
  for (int64_t i = 0; i <= experts; ++i) {
    offset_tensor.data_as<int32_t>()[i] = offsets[i];
    active_tensor.data_as<int32_t>()[i] = active[i];
  }
  Tensor device_slots = gpu_testing::to_gpu(slot_tensor, DType::kI32);
  Tensor device_offsets = gpu_testing::to_gpu(offset_tensor, DType::kI32);
  Tensor device_active = gpu_testing::to_gpu(active_tensor, DType::kI32);
  for (bool fp8 : {false, true}) {
    SCOPED_TRACE(fp8 ? "FP8" : "BF16");
    std::vector<ops::LinearWeight> weights, device_weights;
    std::vector<const void*> weight_addresses;
    std::vector<const float*> scale_addresses;
    for (int64_t e = 0; e < experts; ++e) {
      weights.push_back(random_linear_weight(random, n, k, fp8));
      device_weights.push_back(to_gpu(weights.back()));
      weight_addresses.push_back(device_weights.back().weight.data());
      scale_addresses.push_back(fp8 ? device_weights.back().scale_inv.data_as<float>() : nullptr);
    }
    Tensor weight_table = Tensor::empty({experts}, DType::kI64), scale_table = Tensor::empty({experts}, DType::kI64);
    for (int64_t e = 0; e < experts; ++e) {
      weight_table.data_as<int64_t>()[e] = reinterpret_cast<int64_t>(weight_addresses[e]);
      scale_table.data_as<int64_t>()[e] = reinterpret_cast<int64_t>(scale_addresses[e]);
    }
    Tensor device_weight_table = gpu_testing::to_gpu(weight_table, DType::kI64);
    Tensor device_scale_table = gpu_testing::to_gpu(scale_table, DType::kI64);
    // Expected: sorted row r (expert e) = input row slots[r] . weight_e^T.
    Tensor expected = Tensor::empty({rows, n}, DType::kF32);
    for (int64_t e = 0; e < experts; ++e) {
      for (int32_t r = offsets[e]; r < offsets[e + 1]; ++r) {
        Tensor row = input.slice_rows(slots[r], slots[r] + 1), out = expected.slice_rows(r, r + 1);
        ops::linear(row, weights[e], out, fp8);
      }
    }
    const DeviceRows device_rows(input, fp8);
    {
      cuda::SkinnyGemmParams params{};
      device_rows.fill(params, fp8);
      params.k = k;
      params.rows = rows;
      params.expert_offsets = device_offsets.data_as<int32_t>();
      params.active_experts = device_active.data_as<int32_t>();
      params.experts = static_cast<int>(experts);
      params.a_row_slots = device_slots.data_as<int32_t>();
      params.a_row_divisor = 1;
      Tensor output = gpu_testing::poisoned({rows, n}, DType::kBF16);
      cuda::SkinnyProjection projection{};
      projection.weight_experts = static_cast<const void* const*>(device_weight_table.data());
      projection.scale_experts = static_cast<const float* const*>(device_scale_table.data());
      projection.scale_row_length = fp8 ? weights[0].scale_inv.dim(1) : 0;
      projection.n = n;
      projection.out = output.data();
      params.projections[0] = projection;
      params.projection_count = 1;
      cuda::skinny_gemm(params, fp8, cuda::current_stream());
      EXPECT_LT(gpu_testing::worst_row_error(gpu_testing::to_cpu_f32(output), expected, n), kBound);
    }
  }
}

// Batched over items (the absorbed MLA products, one item per head): item y's rows read A at a row stride wider
// than k, its own weight, and write an output with a row stride wider than n.
TEST(SkinnyBatched, EveryItemMatchesTheCpuTwin) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  const int64_t items = 5, rows = 3, k = 136, n = 72, a_item = 192;  // A: [rows, items, a_item], k of each item used
  Tensor a = gpu_testing::normal_f32_bf16_exact(random, {rows, items * a_item}, 2.0f);
  Tensor weights = gpu_testing::normal_f32_bf16_exact(random, {items, n, k}, 0.05f);
  Tensor expected = Tensor::empty({rows, items * n}, DType::kF32);  // [rows, items, n]
  for (int64_t y = 0; y < items; ++y)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0.0;
        for (int64_t c = 0; c < k; ++c)
          sum += static_cast<double>(a.data_as<float>()[r * items * a_item + y * a_item + c]) *
                 weights.data_as<float>()[(y * n + j) * k + c];
        expected.data_as<float>()[r * items * n + y * n + j] = static_cast<float>(sum);
      }
  Tensor device_a = gpu_testing::to_gpu(a, DType::kBF16), device_weights = gpu_testing::to_gpu(weights, DType::kBF16);
  for (DType out_dtype : {DType::kBF16, DType::kF32}) {
    Tensor output = gpu_testing::poisoned({rows, items * n}, out_dtype);
    cuda::SkinnyGemmParams params{};
    params.a = device_a.data();
    params.k = k;
    params.rows = rows;
    params.a_row_bytes = items * a_item * 2;
    params.a_batch_bytes = a_item * 2;
    params.batch_count = static_cast<int>(items);
    params.weight_batch_bytes = n * k * 2;
    params.out_batch_stride = n;
    params.out_row_stride = items * n;
    params.projections[0].weight = device_weights.data();
    params.projections[0].n = n;
    params.projections[0].out = output.data();
    params.projections[0].out_f32 = out_dtype == DType::kF32;
    params.projection_count = 1;
    cuda::skinny_gemm(params, /*fp8=*/false, cuda::current_stream());
    EXPECT_LT(gpu_testing::worst_row_error(gpu_testing::to_cpu_f32(output), expected, items * n),
              out_dtype == DType::kF32 ? 1e-5 : 8e-3)
        << dtype_name(out_dtype);
  }
}

}  // namespace
}  // namespace dsinfer
