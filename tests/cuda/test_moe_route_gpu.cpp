// ops::moe_route on CUDA (router projection, routing and expert sort in one kernel at 1-8 tokens; linear +
// moe_routing at 40) against its CPU twin on fresh random inputs, for V2-Lite's router and routing, a grouped
// softmax router whose K blocks do not split evenly over the warps, V3-style sigmoid noaux_tc routing with a
// correction bias (256 experts x 512 = the 256 KiB cap) and a 16-expert router held in registers only.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "expert_order_checks.h"
#include "gpu_testing.h"
#include "ops/linear.h"
#include "ops/moe_routing.h"

namespace dsinfer {
namespace {

using gpu_testing::RandomSource;
using gpu_testing::to_gpu;

struct RouterCase {
  const char* name;
  ops::MoeRoutingParams params;
  int64_t hidden;  // K
};

std::vector<RouterCase> router_cases() {
  using ops::MoeRoutingParams;
  return {
      {"V2-Lite greedy", MoeRoutingParams{.num_experts = 64, .top_k = 6}, 2048},
      {"grouped softmax",
       MoeRoutingParams{.topk_method = TopkMethod::kGroupLimitedGreedy, .num_experts = 64, .top_k = 6, .num_groups = 8,
                        .top_k_groups = 3, .routed_scaling_factor = 16.0},
       1600},  // 50 K blocks over 8 warps per row tile: some warps take 7, others 6
      {"V3-style noaux_tc",
       MoeRoutingParams{.scoring_func = ScoringFunc::kSigmoid, .topk_method = TopkMethod::kNoauxTc, .num_experts = 256,
                        .top_k = 8, .num_groups = 8, .top_k_groups = 4, .normalize_top_k = true,
                        .routed_scaling_factor = 2.5},
       512},
      {"tiny V3",
       MoeRoutingParams{.scoring_func = ScoringFunc::kSigmoid, .topk_method = TopkMethod::kNoauxTc, .num_experts = 16,
                        .top_k = 4, .num_groups = 4, .top_k_groups = 2, .normalize_top_k = true,
                        .routed_scaling_factor = 2.5},
       192},
  };
}

// Everything one routing call writes, on the host.
struct Routed {
  Tensor logits, ids, weights;
  ops::ExpertOrder order;
};

Routed download(const Tensor& logits, const Tensor& ids, const Tensor& weights, const ops::ExpertOrder& order) {
  Routed routed{cuda::to_host(logits), cuda::to_host(ids), cuda::to_host(weights), {}};
  routed.order.expert_offsets = cuda::to_host(order.expert_offsets);
  routed.order.tile_offsets = cuda::to_host(order.tile_offsets);
  routed.order.active_experts = cuda::to_host(order.active_experts);
  routed.order.sorted_slots = cuda::to_host(order.sorted_slots);
  routed.order.slot_positions = cuda::to_host(order.slot_positions);
  return routed;
}

// Logits: BF16 inputs make every product x * w exact in float32, so only the sums round; float32 summation of K
// terms in any order errs by at most (K - 1) * 2^-24 * sum |x w| (2^-23 a step for tensor cores that truncate),
// hence 3 K 2^-24 sum |x w| between the two. The ids must equal the CPU twin's except where the twin's logits
// nearly tie: such a token's ids must then be exactly those the CPU routing makes of the device's own
// logits (at most one such token a case). Weights within 1e-5 relative (float vs double routing arithmetic) plus
// what the token's logit differences allow. The order against a host count of the device's ids, and equal to
// the twin's when all ids agree.
TEST(MoeRouteGpu, MatchesCpuTwinFusedAndFallback) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  for (const RouterCase& router_case : router_cases()) {
    const ops::MoeRoutingParams& params = router_case.params;
    const int experts = params.num_experts, top_k = params.top_k;
    const int64_t hidden = router_case.hidden;
    // Weights ~N(0, 2 / sqrt(K)) make the logits ~N(0, 2): near ties (gaps ~1e-6) stay improbable.
    ops::LinearWeight router;
    router.weight = random.normal_bf16({experts, hidden}, 2.0f / std::sqrt(static_cast<float>(hidden)));
    const ops::LinearWeight device_router = to_gpu(router);
    Tensor bias;
    if (params.scoring_func == ScoringFunc::kSigmoid) bias = random.normal_tensor({experts}, 0.1f);
    const Tensor device_bias = bias.defined() ? to_gpu(bias) : Tensor();
    for (int64_t tokens : {1, 3, 8, 40}) {  // fused up to 8 tokens, linear + routing + sort at 40
      SCOPED_TRACE(testing::Message() << router_case.name << ", " << tokens << " tokens");
      const int64_t assignments = tokens * top_k;
      const Tensor input = gpu_testing::normal_f32_bf16_exact(random, {tokens, hidden});

      Tensor logits = Tensor::empty({tokens, experts}, DType::kF32);
      Tensor ids = Tensor::empty({tokens, top_k}, DType::kI32), weights = Tensor::empty({tokens, top_k}, DType::kF32);
      ops::ExpertOrder host_order = ops::ExpertOrder::allocate(experts, assignments, Device::kCpu);
      ops::moe_route(input, router, bias, params, logits, ids, weights, &host_order);

      Tensor device_logits = gpu_testing::poisoned({tokens, experts}, DType::kF32);
      Tensor device_ids = gpu_testing::poisoned({tokens, top_k}, DType::kI32);
      Tensor device_weights = gpu_testing::poisoned({tokens, top_k}, DType::kF32);
      ops::ExpertOrder order = gpu_testing::poisoned_order(experts, assignments);
      ops::moe_route(to_gpu(input, DType::kBF16), device_router, device_bias, params, device_logits, device_ids,
                     device_weights, &order);
      const Routed gpu = download(device_logits, device_ids, device_weights, order);

      std::vector<double> logit_errors(tokens, 0.0);  // per token, the largest |device - twin| logit difference
      for (int64_t t = 0; t < tokens; ++t) {
        for (int e = 0; e < experts; ++e) {
          double magnitude = 0.0;  // sum |x w|
          for (int64_t k = 0; k < hidden; ++k)
            magnitude += std::fabs(op_testing::element(input, t * hidden + k) *
                                   op_testing::element(router.weight, e * hidden + k));
          const int64_t index = t * experts + e;
          const double error = std::fabs(gpu.logits.data_as<float>()[index] - logits.data_as<float>()[index]);
          logit_errors[t] = std::max(logit_errors[t], error);
          ASSERT_LE(error, 3.0 * hidden * std::ldexp(1.0, -24) * magnitude)
              << "token " << t << ", expert " << e << ": " << gpu.logits.data_as<float>()[index] << " vs "
              << logits.data_as<float>()[index];
        }
      }

      int near_tie_tokens = 0;
      for (int64_t t = 0; t < tokens; ++t) {
        const int32_t* gpu_ids = gpu.ids.data_as<int32_t>() + t * top_k;
        const float* gpu_weights = gpu.weights.data_as<float>() + t * top_k;
        const int32_t* cpu_ids = ids.data_as<int32_t>() + t * top_k;
        const float* cpu_weights = weights.data_as<float>() + t * top_k;
        double logit_error = logit_errors[t];
        if (!std::equal(gpu_ids, gpu_ids + top_k, cpu_ids)) {
          ++near_tie_tokens;
          // The CPU routing of this token's device logits.
          Tensor row = gpu.logits.slice_rows(t, t + 1);
          Tensor row_ids = Tensor::empty({1, top_k}, DType::kI32), row_weights = Tensor::empty({1, top_k}, DType::kF32);
          ops::moe_routing(row, bias, params, row_ids, row_weights);
          cpu_ids = row_ids.data_as<int32_t>();
          cpu_weights = row_weights.data_as<float>();
          ASSERT_TRUE(std::equal(gpu_ids, gpu_ids + top_k, cpu_ids)) << "token " << t << ": not a near tie";
          logit_error = 0.0;  // routed from the very same logits
        }
        // A logit change of at most d moves a softmax or (normalized) sigmoid weight by at most 2d relative.
        for (int j = 0; j < top_k; ++j) {
          EXPECT_NEAR(gpu_weights[j], cpu_weights[j], (1e-5 + 2.0 * logit_error) * std::fabs(cpu_weights[j]))
              << "token " << t << ", slot " << j;
        }
      }
      EXPECT_LE(near_tie_tokens, 1);

      ASSERT_NO_FATAL_FAILURE(gpu_testing::expect_sorted_by_expert(
          gpu.ids, experts, ops::kExpertOrderRowsPerTile, gpu.order.expert_offsets, gpu.order.tile_offsets,
          gpu.order.active_experts, gpu.order.sorted_slots, gpu.order.slot_positions));
      if (near_tie_tokens == 0) {
        for (int e = 0; e <= experts; ++e) {
          ASSERT_EQ(gpu.order.expert_offsets.data_as<int32_t>()[e], host_order.expert_offsets.data_as<int32_t>()[e])
              << "expert " << e;
          ASSERT_EQ(gpu.order.tile_offsets.data_as<int32_t>()[e], host_order.tile_offsets.data_as<int32_t>()[e])
              << "expert " << e;
        }
        const int32_t active_count = host_order.active_experts.data_as<int32_t>()[experts];
        ASSERT_EQ(gpu.order.active_experts.data_as<int32_t>()[experts], active_count);
        for (int a = 0; a < active_count; ++a)
          ASSERT_EQ(gpu.order.active_experts.data_as<int32_t>()[a], host_order.active_experts.data_as<int32_t>()[a])
              << "entry " << a;
      }
    }
  }
}

// Without an order, or with an FP8 router, moe_route is linear + moe_routing on the device: the same logits,
// ids and weights bit for bit as those two ops called one after the other.
TEST(MoeRouteGpu, OtherCallsEqualLinearThenRouting) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  const ops::MoeRoutingParams params{.num_experts = 64, .top_k = 6};
  const int64_t hidden = 512;
  for (bool fp8 : {false, true}) {
    const ops::LinearWeight router = to_gpu(gpu_testing::random_linear_weight(random, params.num_experts, hidden, fp8));
    for (bool with_order : {false, true}) {
      if (!fp8 && with_order) continue;  // that is the fused kernel, tested above
      SCOPED_TRACE(testing::Message() << (fp8 ? "FP8 router" : "BF16 router") << (with_order ? ", order" : ""));
      const int64_t tokens = 3, assignments = tokens * params.top_k;
      const Tensor input = to_gpu(gpu_testing::normal_f32_bf16_exact(random, {tokens, hidden}), DType::kBF16);
      Tensor logits[2], ids[2], weights[2];
      ops::ExpertOrder orders[2];
      for (int i = 0; i < 2; ++i) {
        logits[i] = gpu_testing::poisoned({tokens, params.num_experts}, DType::kF32);
        ids[i] = gpu_testing::poisoned({tokens, params.top_k}, DType::kI32);
        weights[i] = gpu_testing::poisoned({tokens, params.top_k}, DType::kF32);
        orders[i] = ops::ExpertOrder::allocate(params.num_experts, assignments, Device::kCuda);
      }
      ops::moe_route(input, router, Tensor(), params, logits[0], ids[0], weights[0], with_order ? &orders[0] : nullptr);
      ops::linear(input, router, logits[1], /*quantize_activations=*/fp8);
      ops::moe_routing(logits[1], Tensor(), params, ids[1], weights[1], with_order ? &orders[1] : nullptr);
      for (Tensor* pair : {logits, ids, weights}) {
        const Tensor first = cuda::to_host(pair[0]), second = cuda::to_host(pair[1]);
        ASSERT_EQ(std::memcmp(first.data(), second.data(), first.nbytes()), 0);
      }
      if (with_order) {
        ASSERT_EQ(std::memcmp(cuda::to_host(orders[0].expert_offsets).data(),
                              cuda::to_host(orders[1].expert_offsets).data(), orders[0].expert_offsets.nbytes()),
                  0);
      }
    }
  }
}

}  // namespace
}  // namespace dsinfer
