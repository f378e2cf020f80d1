// ops::moe_route on the CPU: exactly ops::linear followed by ops::moe_routing (the twin the CUDA kernel is tested
// against), for each routing method, BF16 and FP8 routers, with and without an expert order; and its checks.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/error.h"
#include "ops/linear.h"
#include "ops/moe_routing.h"
#include "random_tensors.h"

namespace dsinfer {
namespace {

using op_testing::RandomSource;

// Byte-wise equality of two host tensors of one shape and dtype.
void expect_identical(const Tensor& actual, const Tensor& expected, const char* what) {
  ASSERT_EQ(actual.shape(), expected.shape()) << what;
  EXPECT_EQ(std::memcmp(actual.data(), expected.data(), expected.nbytes()), 0) << what;
}

TEST(MoeRoute, EqualsLinearThenRouting) {
  RandomSource random;
  SCOPED_TRACE(::testing::Message() << "seed " << random.seed());
  const ops::MoeRoutingParams configurations[] = {
      {.num_experts = 16, .top_k = 4},
      {.topk_method = TopkMethod::kGroupLimitedGreedy, .num_experts = 16, .top_k = 3, .num_groups = 4,
       .top_k_groups = 2, .routed_scaling_factor = 16.0},
      {.scoring_func = ScoringFunc::kSigmoid, .topk_method = TopkMethod::kNoauxTc, .num_experts = 16, .top_k = 4,
       .num_groups = 4, .top_k_groups = 2, .normalize_top_k = true, .routed_scaling_factor = 2.5},
  };
  const int64_t hidden = 256;
  for (const ops::MoeRoutingParams& params : configurations) {
    for (bool fp8 : {false, true}) {
      ops::LinearWeight router;
      if (fp8) {
        router = op_testing::quantize_weight_blocks(random.normal_tensor({params.num_experts, hidden}, 0.1f));
      } else {
        router.weight = random.normal_bf16({params.num_experts, hidden}, 0.1f);
      }
      Tensor bias;
      if (params.scoring_func == ScoringFunc::kSigmoid) bias = random.normal_tensor({params.num_experts}, 0.3f);
      for (int64_t tokens : {1, 5, 40}) {
        for (bool with_order : {false, true}) {
          SCOPED_TRACE(::testing::Message() << "experts " << params.num_experts << ", top " << params.top_k
                                            << (fp8 ? ", FP8" : ", BF16") << ", " << tokens << " tokens"
                                            << (with_order ? ", order" : ""));
          const Tensor input = random.normal_tensor({tokens, hidden});
          const int64_t assignments = tokens * params.top_k;
          Tensor logits[2], ids[2], weights[2];
          ops::ExpertOrder orders[2];
          for (int i = 0; i < 2; ++i) {
            logits[i] = Tensor::empty({tokens, params.num_experts}, DType::kF32);
            ids[i] = Tensor::empty({tokens, params.top_k}, DType::kI32);
            weights[i] = Tensor::empty({tokens, params.top_k}, DType::kF32);
            orders[i] = ops::ExpertOrder::allocate(params.num_experts, assignments, Device::kCpu);
          }
          ops::moe_route(input, router, bias, params, logits[0], ids[0], weights[0],
                         with_order ? &orders[0] : nullptr);
          ops::linear(input, router, logits[1]);
          ops::moe_routing(logits[1], bias, params, ids[1], weights[1], with_order ? &orders[1] : nullptr);
          expect_identical(logits[0], logits[1], "router_logits");
          expect_identical(ids[0], ids[1], "topk_ids");
          expect_identical(weights[0], weights[1], "topk_weights");
          if (with_order) {
            expect_identical(orders[0].expert_offsets, orders[1].expert_offsets, "expert_offsets");
            expect_identical(orders[0].tile_offsets, orders[1].tile_offsets, "tile_offsets");
            // active_experts: the count at index E and that many entries; the rest is unspecified.
            const int32_t* active[2] = {orders[0].active_experts.data_as<int32_t>(),
                                        orders[1].active_experts.data_as<int32_t>()};
            const int32_t active_count = active[1][params.num_experts];
            ASSERT_EQ(active[0][params.num_experts], active_count);
            EXPECT_EQ(std::vector<int32_t>(active[0], active[0] + active_count),
                      std::vector<int32_t>(active[1], active[1] + active_count));
            expect_identical(orders[0].sorted_slots, orders[1].sorted_slots, "sorted_slots");
            expect_identical(orders[0].slot_positions, orders[1].slot_positions, "slot_positions");
          }
        }
      }
    }
  }
}

TEST(MoeRoute, RejectsMismatchedRouterAndRouting) {
  const ops::MoeRoutingParams params{.num_experts = 16, .top_k = 4};
  ops::LinearWeight router;
  router.weight = Tensor::zeros({16, 64}, DType::kBF16);
  Tensor input = Tensor::zeros({2, 64}, DType::kF32), logits = Tensor::empty({2, 16}, DType::kF32);
  Tensor ids = Tensor::empty({2, 4}, DType::kI32), weights = Tensor::empty({2, 4}, DType::kF32);
  EXPECT_NO_THROW(ops::moe_route(input, router, Tensor(), params, logits, ids, weights));
  Tensor narrow_input = Tensor::zeros({2, 32}, DType::kF32);  // K 32 against the router's 64
  EXPECT_THROW(ops::moe_route(narrow_input, router, Tensor(), params, logits, ids, weights), Error);
  ops::LinearWeight wider_router;  // 32 experts, routing set for 16: router_logits cannot fit both
  wider_router.weight = Tensor::zeros({32, 64}, DType::kBF16);
  EXPECT_THROW(ops::moe_route(input, wider_router, Tensor(), params, logits, ids, weights), Error);
  ops::MoeRoutingParams sigmoid = params;
  sigmoid.scoring_func = ScoringFunc::kSigmoid;  // without a correction bias
  EXPECT_THROW(ops::moe_route(input, router, Tensor(), sigmoid, logits, ids, weights), Error);
}

}  // namespace
}  // namespace dsinfer
