// MoE routing (softmax greedy, softmax group-limited, sigmoid + bias noaux_tc) on random and crafted-tie
// inputs, the expert order it can produce, and the routed-expert combine (with and without a given order),
// against float64 references and a plain host count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "ops/moe_experts.h"
#include "ops/moe_routing.h"
#include "random_tensors.h"

namespace dsinfer {
namespace {

using op_testing::RandomSource;

struct Routed {
  std::vector<int32_t> ids;
  std::vector<float> weights;
};

Routed route(const std::vector<float>& logits, const std::vector<float>& bias, const ops::MoeRoutingParams& params) {
  const int64_t tokens = static_cast<int64_t>(logits.size()) / params.num_experts;
  Tensor logit_tensor = Tensor::empty({tokens, params.num_experts}, DType::kF32);
  std::copy(logits.begin(), logits.end(), logit_tensor.data_as<float>());
  Tensor bias_tensor;
  if (!bias.empty()) {
    bias_tensor = Tensor::empty({params.num_experts}, DType::kF32);
    std::copy(bias.begin(), bias.end(), bias_tensor.data_as<float>());
  }
  Tensor ids = Tensor::empty({tokens, params.top_k}, DType::kI32);
  Tensor weights = Tensor::empty({tokens, params.top_k}, DType::kF32);
  ops::moe_routing(logit_tensor, bias_tensor, params, ids, weights);
  Routed result;
  result.ids.assign(ids.data_as<int32_t>(), ids.data_as<int32_t>() + ids.numel());
  result.weights.assign(weights.data_as<float>(), weights.data_as<float>() + weights.numel());
  return result;
}

// Straight transcription of the fixtures' gen.py routing for one token, in float64.
void reference_route(const float* logits, const std::vector<float>& bias, const ops::MoeRoutingParams& params,
                     std::vector<int>& ids, std::vector<double>& weights) {
  const int experts = params.num_experts, groups = params.num_groups, per_group = experts / groups;
  std::vector<double> scores(experts), choice(experts);
  if (params.scoring_func == ScoringFunc::kSigmoid) {
    for (int e = 0; e < experts; ++e) scores[e] = 1.0 / (1.0 + std::exp(-static_cast<double>(logits[e])));
    for (int e = 0; e < experts; ++e) choice[e] = scores[e] + bias[e];
  } else {
    double total = 0.0;
    for (int e = 0; e < experts; ++e) total += std::exp(static_cast<double>(logits[e]));
    for (int e = 0; e < experts; ++e) choice[e] = scores[e] = std::exp(static_cast<double>(logits[e])) / total;
  }
  auto top = [](const std::vector<double>& values, int count) {
    std::vector<int> order(values.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return values[a] > values[b]; });
    order.resize(count);
    return order;
  };
  if (params.topk_method != TopkMethod::kGreedy) {
    std::vector<double> group_score(groups);
    for (int g = 0; g < groups; ++g) {
      std::vector<double> members(choice.begin() + g * per_group, choice.begin() + (g + 1) * per_group);
      std::sort(members.rbegin(), members.rend());
      group_score[g] = params.scoring_func == ScoringFunc::kSigmoid ? members[0] + members[1] : members[0];
    }
    std::vector<int> kept = top(group_score, params.top_k_groups);
    for (int e = 0; e < experts; ++e)
      if (std::find(kept.begin(), kept.end(), e / per_group) == kept.end())
        choice[e] = -std::numeric_limits<double>::infinity();
  }
  ids = top(choice, params.top_k);
  weights.clear();
  double total = 0.0;
  for (int id : ids) total += scores[id];
  for (int id : ids) {
    double w = scores[id];
    if (params.normalize_top_k && params.top_k > 1) w /= total + 1e-20;
    weights.push_back(w * params.routed_scaling_factor);
  }
}

ops::MoeRoutingParams v3_params() {  // dsv3-tiny: 16 experts, 4 groups, top-2 groups, top-4, x2.5
  ops::MoeRoutingParams params;
  params.scoring_func = ScoringFunc::kSigmoid;
  params.topk_method = TopkMethod::kNoauxTc;
  params.num_experts = 16;
  params.top_k = 4;
  params.num_groups = 4;
  params.top_k_groups = 2;
  params.normalize_top_k = true;
  params.routed_scaling_factor = 2.5;
  return params;
}
ops::MoeRoutingParams v2_group_params() {  // dsv2-tiny: softmax, group max, top-3, x16, not normalized
  ops::MoeRoutingParams params;
  params.topk_method = TopkMethod::kGroupLimitedGreedy;
  params.num_experts = 16;
  params.top_k = 3;
  params.num_groups = 4;
  params.top_k_groups = 2;
  params.routed_scaling_factor = 16.0;
  return params;
}
ops::MoeRoutingParams v2_lite_params() {  // dsv2-lite-tiny: softmax greedy, top-4, no groups
  ops::MoeRoutingParams params;
  params.num_experts = 16;
  params.top_k = 4;
  return params;
}

class RoutingTest : public ::testing::TestWithParam<int> {
 protected:
  ops::MoeRoutingParams params() const {
    return GetParam() == 0 ? v3_params() : GetParam() == 1 ? v2_group_params() : v2_lite_params();
  }
};

TEST_P(RoutingTest, RandomLogitsMatchTheReference) {
  RandomSource random;
  SCOPED_TRACE(::testing::Message() << "seed " << random.seed());
  const ops::MoeRoutingParams p = params();
  const int tokens = 50;
  std::vector<float> logits(tokens * p.num_experts), bias;
  for (float& value : logits) value = random.normal(2.0f);
  if (p.scoring_func == ScoringFunc::kSigmoid)
    for (int e = 0; e < p.num_experts; ++e) bias.push_back(random.normal(0.3f));
  Routed routed = route(logits, bias, p);
  std::vector<int> ids;
  std::vector<double> weights;
  for (int t = 0; t < tokens; ++t) {
    reference_route(logits.data() + t * p.num_experts, bias, p, ids, weights);
    for (int j = 0; j < p.top_k; ++j) {
      EXPECT_EQ(routed.ids[t * p.top_k + j], ids[j]) << "token " << t << " slot " << j;
      EXPECT_NEAR(routed.weights[t * p.top_k + j], weights[j], 1e-6 * std::fabs(weights[j]) + 1e-9);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, RoutingTest, ::testing::Values(0, 1, 2), [](const auto& info) {
  return std::string(info.param == 0 ? "SigmoidNoauxTc" : info.param == 1 ? "SoftmaxGroupLimited" : "SoftmaxGreedy");
});

TEST(Routing, TiesGoToTheLowerExpertIndex) {
  ops::MoeRoutingParams p = v2_lite_params();
  Routed routed = route(std::vector<float>(16, 0.5f), {}, p);
  EXPECT_EQ(routed.ids, (std::vector<int32_t>{0, 1, 2, 3}));
  for (float w : routed.weights) EXPECT_FLOAT_EQ(w, 1.0f / 16);  // softmax of equal logits, not normalized
}

TEST(Routing, TiedGroupsGoToTheLowerGroupIndex) {
  ops::MoeRoutingParams p = v2_group_params();
  // Group maxima: groups 1, 2, 3 tie at 3.0, group 0 lower -> groups 1 and 2 kept.
  std::vector<float> logits(16, 0.0f);
  logits[5] = 3.0f;   // group 1
  logits[9] = 3.0f;   // group 2
  logits[14] = 3.0f;  // group 3
  logits[1] = 2.0f;   // group 0
  logits[6] = 1.0f;   // group 1, third best among kept
  Routed routed = route(logits, {}, p);
  EXPECT_EQ(routed.ids, (std::vector<int32_t>{5, 9, 6}));
}

TEST(Routing, BiasChoosesGroupsButWeightsStayUnbiased) {
  ops::MoeRoutingParams p = v3_params();
  std::vector<float> logits(16, 0.0f), bias(16, 0.0f);
  for (int e = 12; e < 16; ++e) bias[e] = 1.0f;  // group 3 wins on bias alone
  logits[0] = 1.0f;                               // group 0 wins on score: sum of top 2 = s(1) + s(0)
  Routed routed = route(logits, bias, p);
  // Group 3 (biased) and group 0 kept; experts 12..15 have choice 1.5 > expert 0's 0.73 -> all four from group 3.
  EXPECT_EQ(routed.ids, (std::vector<int32_t>{12, 13, 14, 15}));
  for (float w : routed.weights) EXPECT_FLOAT_EQ(w, 2.5f / 4);  // equal unbiased sigmoid(0) renormalized, x2.5
}

TEST(Routing, RejectsImpossibleConfigurations) {
  ops::MoeRoutingParams p = v3_params();
  p.top_k = 9;  // 2 groups of 4 experts cannot supply 9
  EXPECT_THROW(route(std::vector<float>(16, 0.0f), std::vector<float>(16, 0.0f), p), Error);
  p = v3_params();
  EXPECT_THROW(route(std::vector<float>(16, 0.0f), {}, p), Error);  // sigmoid without a bias
}

// The routing with an expert order: ids and weights equal the routing without one, and the order is the
// counting sort of the ids (offsets, 32-row tiles and active list from a plain count; rows of an expert in
// assignment order; slot_positions the inverse of sorted_slots).
TEST_P(RoutingTest, OrderIsTheCountingSortOfTheIds) {
  RandomSource random;
  SCOPED_TRACE(::testing::Message() << "seed " << random.seed());
  const ops::MoeRoutingParams p = params();
  for (int64_t tokens : {1, 3, 8, 32, 200}) {
    SCOPED_TRACE(::testing::Message() << tokens << " tokens");
    std::vector<float> logits(tokens * p.num_experts), bias;
    for (float& value : logits) value = random.normal(2.0f);
    if (p.scoring_func == ScoringFunc::kSigmoid)
      for (int e = 0; e < p.num_experts; ++e) bias.push_back(random.normal(0.3f));
    const Routed unordered = route(logits, bias, p);

    Tensor logit_tensor = Tensor::empty({tokens, p.num_experts}, DType::kF32);
    std::copy(logits.begin(), logits.end(), logit_tensor.data_as<float>());
    Tensor bias_tensor;
    if (!bias.empty()) {
      bias_tensor = Tensor::empty({p.num_experts}, DType::kF32);
      std::copy(bias.begin(), bias.end(), bias_tensor.data_as<float>());
    }
    Tensor ids = Tensor::empty({tokens, p.top_k}, DType::kI32);
    Tensor weights = Tensor::empty({tokens, p.top_k}, DType::kF32);
    // Allocated for more tokens than routed, as the model's workspace is.
    ops::ExpertOrder order = ops::ExpertOrder::allocate(p.num_experts, 256 * p.top_k, Device::kCpu)
                                 .first_assignments(tokens * p.top_k);
    ops::moe_routing(logit_tensor, bias_tensor, p, ids, weights, &order);
    const int32_t* id = ids.data_as<int32_t>();
    ASSERT_EQ(std::vector<int32_t>(id, id + ids.numel()), unordered.ids);
    ASSERT_EQ(std::vector<float>(weights.data_as<float>(), weights.data_as<float>() + weights.numel()),
              unordered.weights);

    const int32_t* offsets = order.expert_offsets.data_as<int32_t>();
    const int32_t* tiles = order.tile_offsets.data_as<int32_t>();
    const int32_t* active = order.active_experts.data_as<int32_t>();
    const int32_t* sorted = order.sorted_slots.data_as<int32_t>();
    const int32_t* positions = order.slot_positions.data_as<int32_t>();
    int32_t row = 0, tile = 0, active_count = 0;
    for (int e = 0; e < p.num_experts; ++e) {
      ASSERT_EQ(offsets[e], row) << "expert " << e;
      ASSERT_EQ(tiles[e], tile) << "expert " << e;
      int32_t count = 0;
      for (int64_t i = 0; i < ids.numel(); ++i) {
        if (id[i] != e) continue;
        EXPECT_EQ(sorted[row + count], i) << "expert " << e << ", its row " << count;
        EXPECT_EQ(positions[i], row + count) << "assignment " << i;
        ++count;
      }
      if (count > 0) {
        EXPECT_EQ(active[active_count++], e);
      }
      row += count;
      tile += (count + ops::kExpertOrderRowsPerTile - 1) / ops::kExpertOrderRowsPerTile;
    }
    EXPECT_EQ(row, ids.numel());
    EXPECT_EQ(offsets[p.num_experts], row);
    EXPECT_EQ(tiles[p.num_experts], tile);
    EXPECT_EQ(active[p.num_experts], active_count);
  }
}

TEST(Routing, RejectsAnOrderOfTheWrongShape) {
  ops::MoeRoutingParams p = v2_lite_params();
  Tensor logits = Tensor::zeros({2, 16}, DType::kF32), no_bias;
  Tensor ids = Tensor::empty({2, 4}, DType::kI32), weights = Tensor::empty({2, 4}, DType::kF32);
  ops::ExpertOrder uncut = ops::ExpertOrder::allocate(16, 16, Device::kCpu);  // not cut to 2 x 4 assignments
  EXPECT_THROW(ops::moe_routing(logits, no_bias, p, ids, weights, &uncut), Error);
  ops::ExpertOrder too_few_experts = ops::ExpertOrder::allocate(8, 16, Device::kCpu).first_assignments(8);
  EXPECT_THROW(ops::moe_routing(logits, no_bias, p, ids, weights, &too_few_experts), Error);
  ops::ExpertOrder fitting = ops::ExpertOrder::allocate(16, 16, Device::kCpu).first_assignments(8);
  EXPECT_NO_THROW(ops::moe_routing(logits, no_bias, p, ids, weights, &fitting));
}

// One expert's gated MLP output for one token, in float64.
std::vector<double> expert_reference(const ops::MlpWeights& expert, const float* x, int64_t hidden) {
  const int64_t intermediate = expert.gate_proj.out_features();
  std::vector<double> activation(intermediate), out(hidden, 0.0);
  for (int64_t i = 0; i < intermediate; ++i) {
    double gate = 0.0, up = 0.0;
    for (int64_t k = 0; k < hidden; ++k) {
      gate += x[k] * op_testing::weight_value(expert.gate_proj, i, k);
      up += x[k] * op_testing::weight_value(expert.up_proj, i, k);
    }
    activation[i] = gate / (1.0 + std::exp(-gate)) * up;
  }
  for (int64_t h = 0; h < hidden; ++h)
    for (int64_t i = 0; i < intermediate; ++i) out[h] += activation[i] * op_testing::weight_value(expert.down_proj, h, i);
  return out;
}

class MoeExpertsTest : public ::testing::TestWithParam<bool> {};

TEST_P(MoeExpertsTest, AccumulatesTheWeightedExpertOutputs) {
  RandomSource random;
  SCOPED_TRACE(::testing::Message() << "seed " << random.seed());
  const bool fp8 = GetParam();
  const int64_t tokens = 13, hidden = 160, intermediate = 96, top_k = 3, experts_count = 8;
  auto make = [&](int64_t rows, int64_t columns) {
    ops::LinearWeight weight;
    if (fp8) return op_testing::quantize_weight_blocks(random.normal_tensor({rows, columns}, 0.1f));
    weight.weight = random.normal_bf16({rows, columns}, 0.1f);
    return weight;
  };
  std::vector<ops::MlpWeights> experts(experts_count);
  for (auto& expert : experts) {
    expert.gate_proj = make(intermediate, hidden);
    expert.up_proj = make(intermediate, hidden);
    expert.down_proj = make(hidden, intermediate);
  }
  Tensor input = random.normal_tensor({tokens, hidden});
  Tensor ids = Tensor::empty({tokens, top_k}, DType::kI32), weights = Tensor::empty({tokens, top_k}, DType::kF32);
  for (int64_t t = 0; t < tokens; ++t) {
    std::vector<int> order(experts_count);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), random.engine());
    for (int64_t j = 0; j < top_k; ++j) {
      ids.data_as<int32_t>()[t * top_k + j] = order[j];
      weights.data_as<float>()[t * top_k + j] = random.uniform(0.1f, 2.0f);
    }
  }
  Tensor output = random.normal_tensor({tokens, hidden});  // stands for the shared experts' output
  std::vector<double> expected = op_testing::to_doubles(output);
  const std::vector<double> shared_values = expected;  // (Tensor copies share memory; these do not)
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t j = 0; j < top_k; ++j) {
      auto y = expert_reference(experts[ids.data_as<int32_t>()[t * top_k + j]], input.data_as<float>() + t * hidden, hidden);
      for (int64_t h = 0; h < hidden; ++h) expected[t * hidden + h] += weights.data_as<float>()[t * top_k + j] * y[h];
    }
  Tensor shared_part = Tensor::empty(output.shape(), DType::kF32);
  std::copy_n(output.data_as<float>(), output.numel(), shared_part.data_as<float>());
  ops::moe_experts(input, ids, weights, experts, output);
  EXPECT_LT(op_testing::relative_l2(op_testing::to_doubles(output), expected), 1e-6);

  // With an expert order: the CPU loop is per token and reads only the order's shapes, so the very same sums.
  ops::ExpertOrder order = ops::ExpertOrder::allocate(static_cast<int>(experts_count), tokens * top_k, Device::kCpu);
  for (Tensor* tensor : {&order.expert_offsets, &order.tile_offsets, &order.active_experts, &order.sorted_slots,
                         &order.slot_positions})
    std::fill_n(tensor->data_as<int32_t>(), tensor->numel(), 0);
  Tensor ordered_output = shared_part;  // accumulates onto the same shared-expert part
  ops::moe_experts(input, ids, weights, order, experts, ordered_output);
  EXPECT_EQ(op_testing::to_doubles(ordered_output), op_testing::to_doubles(output));

  // With shared experts (twice an expert's width) in the op: their output replaces whatever `output` held.
  ops::MlpWeights shared{make(2 * intermediate, hidden), make(2 * intermediate, hidden),
                         make(hidden, 2 * intermediate)};
  std::vector<double> expected_with_shared = expected;
  for (int64_t t = 0; t < tokens; ++t) {
    auto y = expert_reference(shared, input.data_as<float>() + t * hidden, hidden);
    for (int64_t h = 0; h < hidden; ++h)
      expected_with_shared[t * hidden + h] += y[h] - shared_values[t * hidden + h];
  }
  Tensor overwritten = random.normal_tensor({tokens, hidden}, 100.0f);
  ops::moe_experts(input, ids, weights, order, experts, shared, overwritten);
  EXPECT_LT(op_testing::relative_l2(op_testing::to_doubles(overwritten), expected_with_shared), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(WeightFormats, MoeExpertsTest, ::testing::Values(false, true),
                         [](const auto& info) { return std::string(info.param ? "Fp8" : "Bf16"); });

TEST(MoeExperts, RejectsAnOrderOfTheWrongShape) {
  std::vector<ops::MlpWeights> experts(2);
  for (auto& expert : experts) {
    expert.gate_proj.weight = Tensor::zeros({4, 8}, DType::kBF16);
    expert.up_proj.weight = Tensor::zeros({4, 8}, DType::kBF16);
    expert.down_proj.weight = Tensor::zeros({8, 4}, DType::kBF16);
  }
  Tensor input = Tensor::zeros({3, 8}, DType::kF32), output = Tensor::zeros({3, 8}, DType::kF32);
  Tensor ids = Tensor::zeros({3, 2}, DType::kI32), weights = Tensor::zeros({3, 2}, DType::kF32);
  ops::ExpertOrder for_three_experts = ops::ExpertOrder::allocate(3, 6, Device::kCpu);
  EXPECT_THROW(ops::moe_experts(input, ids, weights, for_three_experts, experts, output), Error);
  ops::ExpertOrder for_four_tokens = ops::ExpertOrder::allocate(2, 8, Device::kCpu);
  EXPECT_THROW(ops::moe_experts(input, ids, weights, for_four_tokens, experts, output), Error);
  ops::ExpertOrder missing_positions = ops::ExpertOrder::allocate(2, 6, Device::kCpu);
  missing_positions.slot_positions = Tensor();
  EXPECT_THROW(ops::moe_experts(input, ids, weights, missing_positions, experts, output), Error);
}

TEST(MoeExperts, RejectsAnExpertIdOutOfRange) {
  std::vector<ops::MlpWeights> experts(2);
  for (auto& expert : experts) {
    expert.gate_proj.weight = Tensor::zeros({4, 8}, DType::kBF16);
    expert.up_proj.weight = Tensor::zeros({4, 8}, DType::kBF16);
    expert.down_proj.weight = Tensor::zeros({8, 4}, DType::kBF16);
  }
  Tensor input = Tensor::zeros({1, 8}, DType::kF32), output = Tensor::zeros({1, 8}, DType::kF32);
  Tensor ids = Tensor::zeros({1, 1}, DType::kI32), weights = Tensor::zeros({1, 1}, DType::kF32);
  ids.data_as<int32_t>()[0] = 2;
  EXPECT_THROW(ops::moe_experts(input, ids, weights, experts, output), Error);
}

}  // namespace
}  // namespace dsinfer
