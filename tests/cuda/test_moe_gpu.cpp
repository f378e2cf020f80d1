// MoE routing (all three methods, DeepSeek-V3 / V2 / V2-Lite and the test models' shapes) and the routed
// experts (BF16 and block-scaled FP8, stacked as the CUDA loader stacks them) against the CPU twins.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include "gpu_testing.h"
#include "ops/moe_experts.h"
#include "ops/moe_routing.h"

namespace dsinfer {
namespace {

using gpu_testing::RandomSource;
using gpu_testing::to_cpu_f32;
using gpu_testing::to_gpu;

ops::MoeRoutingParams routing(ScoringFunc scoring, TopkMethod method, int experts, int top_k, int groups,
                              int top_k_groups, bool normalize, double scaling) {
  ops::MoeRoutingParams params;
  params.scoring_func = scoring;
  params.topk_method = method;
  params.num_experts = experts;
  params.top_k = top_k;
  params.num_groups = groups;
  params.top_k_groups = top_k_groups;
  params.normalize_top_k = normalize;
  params.routed_scaling_factor = scaling;
  return params;
}

TEST(MoeRoutingGpu, MatchesCpuTwinForEveryMethod) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  const std::vector<std::pair<const char*, ops::MoeRoutingParams>> configurations = {
      {"V3 noaux_tc", routing(ScoringFunc::kSigmoid, TopkMethod::kNoauxTc, 256, 8, 8, 4, true, 2.5)},
      {"V2 group_limited", routing(ScoringFunc::kSoftmax, TopkMethod::kGroupLimitedGreedy, 160, 6, 8, 3, false, 16.0)},
      {"V2-Lite greedy", routing(ScoringFunc::kSoftmax, TopkMethod::kGreedy, 64, 6, 1, 1, false, 1.0)},
      {"tiny V3", routing(ScoringFunc::kSigmoid, TopkMethod::kNoauxTc, 16, 4, 4, 2, true, 2.5)},
  };
  for (const auto& [name, params] : configurations) {
    SCOPED_TRACE(name);
    const int64_t tokens = 300;
    Tensor logits = random.normal_tensor({tokens, params.num_experts}, 2.0f);
    Tensor bias;
    if (params.scoring_func == ScoringFunc::kSigmoid) bias = random.normal_tensor({params.num_experts}, 0.1f);
    Tensor ids = Tensor::empty({tokens, params.top_k}, DType::kI32), weights = Tensor::empty({tokens, params.top_k}, DType::kF32);
    ops::moe_routing(logits, bias, params, ids, weights);
    Tensor device_ids = gpu_testing::poisoned({tokens, params.top_k}, DType::kI32);
    Tensor device_weights = gpu_testing::poisoned({tokens, params.top_k}, DType::kF32);
    ops::moe_routing(to_gpu(logits), bias.defined() ? to_gpu(bias) : Tensor(), params, device_ids, device_weights);
    Tensor gpu_ids = cuda::to_host(device_ids), gpu_weights = cuda::to_host(device_weights);
    int differing_tokens = 0;
    for (int64_t i = 0; i < ids.numel(); ++i) {
      if (gpu_ids.data_as<int32_t>()[i] != ids.data_as<int32_t>()[i]) {
        ++differing_tokens;  // float vs double scores may swap two experts that tie to ~1e-7
        continue;
      }
      EXPECT_NEAR(gpu_weights.data_as<float>()[i], weights.data_as<float>()[i], 1e-5 * params.routed_scaling_factor);
    }
    EXPECT_LE(differing_tokens, 2) << "of " << ids.numel() << " choices";
  }
}

// Experts on the host (one tensor each) and the same weights on the device, stacked [experts, rows, columns].
struct ExpertSet {
  std::vector<ops::MlpWeights> host, device;
  std::vector<Tensor> stacks;  // keep the device allocations alive
};

ExpertSet make_experts(RandomSource& random, int experts, int64_t hidden, int64_t intermediate, bool fp8) {
  ExpertSet set;
  set.host.resize(experts);
  set.device.resize(experts);
  auto make = [&](int64_t rows, int64_t columns, ops::LinearWeight ops::MlpWeights::*member) {
    std::vector<ops::LinearWeight> weights;
    for (int e = 0; e < experts; ++e) {
      set.host[e].*member = gpu_testing::host_weight(random.normal_tensor({rows, columns}, 0.08f), fp8);
    }
    const ops::LinearWeight& first = set.host[0].*member;
    Tensor stack = Tensor::empty({experts, rows, columns}, first.weight.dtype(), Device::kCuda);
    Tensor scale_stack;
    if (fp8) scale_stack = Tensor::empty({experts, first.scale_inv.dim(0), first.scale_inv.dim(1)}, DType::kF32, Device::kCuda);
    for (int e = 0; e < experts; ++e) {
      const ops::LinearWeight& host = set.host[e].*member;
      ops::LinearWeight device = host;
      device.weight = Tensor::view(static_cast<char*>(stack.data()) + e * host.weight.nbytes(), host.weight.shape(),
                                   host.weight.dtype(), Device::kCuda);
      cuda::copy_to_device(host.weight, device.weight);
      if (fp8) {
        device.scale_inv = Tensor::view(static_cast<char*>(scale_stack.data()) + e * host.scale_inv.nbytes(),
                                        host.scale_inv.shape(), DType::kF32, Device::kCuda);
        cuda::copy_to_device(host.scale_inv, device.scale_inv);
      }
      set.device[e].*member = device;
    }
    set.stacks.push_back(stack);
    if (fp8) set.stacks.push_back(scale_stack);
  };
  make(intermediate, hidden, &ops::MlpWeights::gate_proj);
  make(intermediate, hidden, &ops::MlpWeights::up_proj);
  make(hidden, intermediate, &ops::MlpWeights::down_proj);
  return set;
}

// Each token's top_k distinct experts and their weights: ids [tokens, top_k] I32, weights [tokens, top_k] F32.
std::pair<Tensor, Tensor> random_routing(RandomSource& random, int tokens, int experts, int top_k) {
  Tensor ids = Tensor::empty({tokens, top_k}, DType::kI32), weights = Tensor::empty({tokens, top_k}, DType::kF32);
  for (int t = 0; t < tokens; ++t) {
    std::set<int> chosen;
    while (static_cast<int>(chosen.size()) < top_k) chosen.insert(random.integer(0, experts - 1));
    int j = 0;
    for (int expert : chosen) {
      ids.data_as<int32_t>()[t * top_k + j] = expert;
      weights.data_as<float>()[t * top_k + j++] = random.uniform(0.05f, 1.0f);
    }
  }
  return {ids, weights};
}

// (fp8, experts, top_k, hidden, intermediate, tokens)
class MoeExpertsGpuTest : public ::testing::TestWithParam<std::tuple<bool, int, int, int, int, int>> {};

TEST_P(MoeExpertsGpuTest, AccumulatesTheSameWeightedExpertOutputsAsTheCpu) {
  DSINFER_REQUIRE_GPU();
  auto [fp8, experts, top_k, hidden, intermediate, tokens] = GetParam();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  ExpertSet set = make_experts(random, experts, hidden, intermediate, fp8);
  Tensor input = gpu_testing::normal_f32_bf16_exact(random, {tokens, hidden}, 2.0f);
  const auto [ids, weights] = random_routing(random, tokens, experts, top_k);
  Tensor shared = gpu_testing::normal_f32_bf16_exact(random, {tokens, hidden}, 0.5f);  // the shared experts' part
  Tensor expected = Tensor::empty({tokens, hidden}, DType::kF32);
  std::copy_n(shared.data_as<float>(), shared.numel(), expected.data_as<float>());
  ops::moe_experts(input, ids, weights, set.host, expected, /*quantize_activations=*/fp8);
  Tensor output = to_gpu(shared, DType::kBF16);
  ops::moe_experts(to_gpu(input, DType::kBF16), to_gpu(ids), to_gpu(weights), set.device, output, fp8);
  const double error = gpu_testing::worst_row_error(to_cpu_f32(output), expected, hidden);
  std::printf("MoE experts %s: worst row error %.2e\n", ::testing::UnitTest::GetInstance()->current_test_info()->name(),
              error);
  EXPECT_LT(error, 1e-2);
}

// F32 activations (FP8 experts only): inputs and output F32, float32 sums on the CUDA cores. The median row
// agrees with the float32 twin to float32 rounding; a rare row may differ by one e4m3 code of the gated
// activation (its float32 value within rounding of a midpoint), hence the separate bound on the worst row.
TEST_P(MoeExpertsGpuTest, F32ActivationsMatchCpuTwinToFloat32Rounding) {
  DSINFER_REQUIRE_GPU();
  auto [fp8, experts, top_k, hidden, intermediate, tokens] = GetParam();
  if (!fp8) GTEST_SKIP() << "F32 activations need FP8 experts on CUDA";
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  ExpertSet set = make_experts(random, experts, hidden, intermediate, fp8);
  Tensor input = random.normal_tensor({tokens, hidden}, 2.0f);
  const auto [ids, weights] = random_routing(random, tokens, experts, top_k);
  Tensor shared = random.normal_tensor({tokens, hidden}, 0.5f);
  Tensor expected = Tensor::empty({tokens, hidden}, DType::kF32);
  std::copy_n(shared.data_as<float>(), shared.numel(), expected.data_as<float>());
  ops::moe_experts(input, ids, weights, set.host, expected, /*quantize_activations=*/true);
  Tensor output = to_gpu(shared);
  ops::moe_experts(to_gpu(input), to_gpu(ids), to_gpu(weights), set.device, output, true);
  Tensor actual = to_cpu_f32(output);
  EXPECT_LT(gpu_testing::median_row_error(actual, expected, hidden), 1e-5);
  EXPECT_LT(gpu_testing::worst_row_error(actual, expected, hidden), 1e-2);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, MoeExpertsGpuTest,
    ::testing::Values(std::tuple{false, 16, 4, 192, 64, 1}, std::tuple{false, 16, 4, 192, 64, 37},
                      std::tuple{true, 16, 4, 256, 96, 5}, std::tuple{true, 16, 4, 256, 96, 70},
                      std::tuple{false, 64, 6, 2048, 1408, 3}, std::tuple{false, 64, 6, 2048, 1408, 200},
                      std::tuple{true, 32, 8, 7168, 256, 4}, std::tuple{true, 32, 8, 1024, 2048, 150}),
    [](const auto& info) {
      return std::string(std::get<0>(info.param) ? "fp8" : "bf16") + "_e" + std::to_string(std::get<1>(info.param)) +
             "_h" + std::to_string(std::get<3>(info.param)) + "_i" + std::to_string(std::get<4>(info.param)) + "_t" +
             std::to_string(std::get<5>(info.param));
    });

}  // namespace
}  // namespace dsinfer
