// MoE routing (all three methods, DeepSeek-V3 / V2 / V2-Lite and the test models' shapes), with and without
// the expert order it can sort in the same kernel, the expert sort, and the routed experts (BF16 and
// block-scaled FP8, stacked as the CUDA loader stacks them, with and without a given order) against the CPU
// twins and host counts.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include "expert_order_checks.h"
#include "gpu_testing.h"
#include "kernels/sm90/moe/moe_sort.h"
#include "ops/add_rms_norm.h"
#include "ops/linear.h"
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

// The four routing configurations the routing tests cover: DeepSeek-V3, V2, V2-Lite and the tiny V3 fixture.
std::vector<std::pair<const char*, ops::MoeRoutingParams>> routing_configurations() {
  return {
      {"V3 noaux_tc", routing(ScoringFunc::kSigmoid, TopkMethod::kNoauxTc, 256, 8, 8, 4, true, 2.5)},
      {"V2 group_limited", routing(ScoringFunc::kSoftmax, TopkMethod::kGroupLimitedGreedy, 160, 6, 8, 3, false, 16.0)},
      {"V2-Lite greedy", routing(ScoringFunc::kSoftmax, TopkMethod::kGreedy, 64, 6, 1, 1, false, 1.0)},
      {"tiny V3", routing(ScoringFunc::kSigmoid, TopkMethod::kNoauxTc, 16, 4, 4, 2, true, 2.5)},
  };
}

TEST(MoeRoutingGpu, MatchesCpuTwinForEveryMethod) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  const std::vector<std::pair<const char*, ops::MoeRoutingParams>> configurations = routing_configurations();
  for (const auto& [name, params] : configurations) {
    for (int64_t tokens : {1, 3, 8, 300}) {  // a decode step's 1-8 tokens (CTAs with idle warps) and prefill
      SCOPED_TRACE(testing::Message() << name << ", " << tokens << " tokens");
      Tensor logits = random.normal_tensor({tokens, params.num_experts}, 2.0f);
      Tensor bias;
      if (params.scoring_func == ScoringFunc::kSigmoid) bias = random.normal_tensor({params.num_experts}, 0.1f);
      Tensor ids = Tensor::empty({tokens, params.top_k}, DType::kI32);
      Tensor weights = Tensor::empty({tokens, params.top_k}, DType::kF32);
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
}

// Routing with an expert order: up to 1024 assignments in one fused kernel (1, 3, 8, 32 tokens), 200 tokens
// through the routing kernel and moe_sort. Ids and weights against the CPU twin as above; the order against a
// host count of the device's own ids (exact offsets, tiles and active list, each assignment placed once inside
// its expert's range, slot_positions the inverse of sorted_slots) and, when every id agrees, equal to the CPU
// twin's offsets, tiles and active list. The order buffers are poisoned and sized for more tokens.
TEST(MoeRoutingGpu, FusedRoutingAndSortMatchCpuTwin) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  const std::vector<std::pair<const char*, ops::MoeRoutingParams>> configurations = routing_configurations();
  for (const auto& [name, params] : configurations) {
    const int experts = params.num_experts;
    for (int64_t tokens : {1, 3, 8, 32, 200}) {
      SCOPED_TRACE(testing::Message() << name << ", " << tokens << " tokens");
      const int64_t assignments = tokens * params.top_k;
      Tensor logits = random.normal_tensor({tokens, experts}, 2.0f);
      Tensor bias;
      if (params.scoring_func == ScoringFunc::kSigmoid) bias = random.normal_tensor({experts}, 0.1f);
      Tensor ids = Tensor::empty({tokens, params.top_k}, DType::kI32);
      Tensor weights = Tensor::empty({tokens, params.top_k}, DType::kF32);
      ops::ExpertOrder host_order = ops::ExpertOrder::allocate(experts, assignments, Device::kCpu);
      ops::moe_routing(logits, bias, params, ids, weights, &host_order);

      Tensor device_ids = gpu_testing::poisoned({tokens, params.top_k}, DType::kI32);
      Tensor device_weights = gpu_testing::poisoned({tokens, params.top_k}, DType::kF32);
      ops::ExpertOrder order = gpu_testing::poisoned_order(experts, assignments);
      ops::moe_routing(to_gpu(logits), bias.defined() ? to_gpu(bias) : Tensor(), params, device_ids, device_weights,
                       &order);
      Tensor gpu_ids = cuda::to_host(device_ids), gpu_weights = cuda::to_host(device_weights);
      int differing_choices = 0;
      for (int64_t i = 0; i < ids.numel(); ++i) {
        if (gpu_ids.data_as<int32_t>()[i] != ids.data_as<int32_t>()[i]) {
          ++differing_choices;  // float vs double scores may swap two experts that tie to ~1e-7
          continue;
        }
        EXPECT_NEAR(gpu_weights.data_as<float>()[i], weights.data_as<float>()[i], 1e-5 * params.routed_scaling_factor);
      }
      EXPECT_LE(differing_choices, 2) << "of " << ids.numel() << " choices";

      const Tensor offsets = cuda::to_host(order.expert_offsets), tiles = cuda::to_host(order.tile_offsets);
      const Tensor active = cuda::to_host(order.active_experts);
      ASSERT_NO_FATAL_FAILURE(gpu_testing::expect_sorted_by_expert(
          gpu_ids, experts, ops::kExpertOrderRowsPerTile, offsets, tiles, active, cuda::to_host(order.sorted_slots),
          cuda::to_host(order.slot_positions)));
      if (differing_choices == 0) {
        for (int e = 0; e <= experts; ++e) {
          ASSERT_EQ(offsets.data_as<int32_t>()[e], host_order.expert_offsets.data_as<int32_t>()[e]) << "expert " << e;
          ASSERT_EQ(tiles.data_as<int32_t>()[e], host_order.tile_offsets.data_as<int32_t>()[e]) << "expert " << e;
        }
        const int32_t active_count = host_order.active_experts.data_as<int32_t>()[experts];
        ASSERT_EQ(active.data_as<int32_t>()[experts], active_count);
        for (int a = 0; a < active_count; ++a)
          ASSERT_EQ(active.data_as<int32_t>()[a], host_order.active_experts.data_as<int32_t>()[a]) << "entry " << a;
      }
    }
  }
}

// moe_sort against a host count: offsets, tile offsets and the active list are exact prefix sums over the
// experts (the kernel scans them in parallel), and every valid assignment gets a distinct row inside its
// expert's range, sorted_slots pointing back at it; ids outside [0, experts) get -1. Decode (1-8 tokens) and
// prefill sizes, V2-Lite's 64 and V3's 256 experts, and the 1024 the kernel allows.
TEST(MoeSortGpu, CountsScansAndScattersLikeAHostCount) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  const int rows_per_tile = 32;
  for (auto [experts, top_k] : {std::pair{64, 6}, std::pair{256, 8}, std::pair{1024, 8}, std::pair{5, 2}}) {
    for (int tokens : {1, 3, 8, 200}) {
      SCOPED_TRACE(testing::Message() << experts << " experts, top " << top_k << ", " << tokens << " tokens");
      const int64_t assignments = static_cast<int64_t>(tokens) * top_k;
      Tensor ids = Tensor::empty({assignments}, DType::kI32);
      for (int64_t i = 0; i < assignments; ++i)  // about one in 20 outside the expert range
        ids.data_as<int32_t>()[i] = random.integer(0, 19) == 0 ? (random.integer(0, 1) ? -1 : experts)
                                                                : random.integer(0, experts - 1);
      Tensor expert_offsets = gpu_testing::poisoned({experts + 1}, DType::kI32);
      Tensor tile_offsets = gpu_testing::poisoned({experts + 1}, DType::kI32);
      Tensor active_experts = gpu_testing::poisoned({experts + 1}, DType::kI32);
      Tensor sorted_slots = gpu_testing::poisoned({assignments}, DType::kI32);
      Tensor slot_positions = gpu_testing::poisoned({assignments}, DType::kI32);
      Tensor device_ids = to_gpu(ids);
      cuda::moe_sort(device_ids.data_as<const int32_t>(), assignments, experts, rows_per_tile,
                     expert_offsets.data_as<int32_t>(), tile_offsets.data_as<int32_t>(),
                     active_experts.data_as<int32_t>(), sorted_slots.data_as<int32_t>(),
                     slot_positions.data_as<int32_t>(), cuda::current_stream());
      ASSERT_NO_FATAL_FAILURE(gpu_testing::expect_sorted_by_expert(
          ids, experts, rows_per_tile, cuda::to_host(expert_offsets), cuda::to_host(tile_offsets),
          cuda::to_host(active_experts), cuda::to_host(sorted_slots), cuda::to_host(slot_positions)));
    }
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
    if (fp8)
      scale_stack = Tensor::empty({experts, first.scale_inv.dim(0), first.scale_inv.dim(1)}, DType::kF32,
                                  Device::kCuda);
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

// moe_experts given the order ops::moe_routing produced (fused kernel at 3 tokens, routing + moe_sort at 200)
// against moe_experts sorting for itself, on the same device ids: BF16 and FP8 experts, skinny and tiled GEMMs.
// Rows within an expert may come in another order; each row's sums do not depend on it, so the bound is tight.
TEST(MoeExpertsGpu, GivenOrderGivesTheOutputOfItsOwnSort) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  const ops::MoeRoutingParams params = routing(ScoringFunc::kSoftmax, TopkMethod::kGreedy, 64, 6, 1, 1, false, 1.0);
  const int64_t hidden = 256, intermediate = 128;
  for (bool fp8 : {false, true}) {
    ExpertSet set = make_experts(random, params.num_experts, hidden, intermediate, fp8);
    for (int64_t tokens : {3, 200}) {
      SCOPED_TRACE(testing::Message() << (fp8 ? "FP8" : "BF16") << ", " << tokens << " tokens");
      Tensor ids = Tensor::empty({tokens, params.top_k}, DType::kI32, Device::kCuda);
      Tensor weights = Tensor::empty({tokens, params.top_k}, DType::kF32, Device::kCuda);
      ops::ExpertOrder order = ops::ExpertOrder::allocate(params.num_experts, tokens * params.top_k, Device::kCuda);
      ops::moe_routing(to_gpu(random.normal_tensor({tokens, params.num_experts}, 2.0f)), Tensor(), params, ids,
                       weights, &order);
      Tensor input = to_gpu(gpu_testing::normal_f32_bf16_exact(random, {tokens, hidden}, 2.0f), DType::kBF16);
      Tensor shared = gpu_testing::normal_f32_bf16_exact(random, {tokens, hidden}, 0.5f);
      Tensor own_sort = to_gpu(shared, DType::kBF16), given_order = to_gpu(shared, DType::kBF16);
      ops::moe_experts(input, ids, weights, set.device, own_sort, fp8);
      ops::moe_experts(input, ids, weights, order, set.device, given_order, fp8);
      const double error = gpu_testing::worst_row_error(to_cpu_f32(given_order), to_cpu_f32(own_sort), hidden);
      std::printf("MoE experts, given order vs own sort (%s, %lld tokens): worst row error %.2e\n",
                  fp8 ? "FP8" : "BF16", static_cast<long long>(tokens), error);
      EXPECT_LT(error, 1e-3);
    }
  }
}

// The MoE layer's whole MLP (shared experts + routed, output overwritten) against the CPU twin, on device ids
// and order from the GPU routing. Up to 8 tokens the shared experts are the dense set of the skinny launches:
// shared intermediate twice an expert's (V2-Lite) or equal to it (V3 under TP8, where the FP8 path quantizes
// both activations in one pass); at 40 tokens they run on their own before the tiled expert GEMMs.
TEST(MoeExpertsGpu, WithSharedExpertsMatchesTheCpu) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  const ops::MoeRoutingParams params = routing(ScoringFunc::kSoftmax, TopkMethod::kGreedy, 16, 4, 1, 1, false, 1.0);
  for (bool fp8 : {false, true}) {
    for (auto [hidden, intermediate, shared_intermediate] : {std::tuple{256, 128, 256}, std::tuple{512, 128, 128}}) {
      ExpertSet set = make_experts(random, params.num_experts, hidden, intermediate, fp8);
      ExpertSet shared = make_experts(random, 1, hidden, shared_intermediate, fp8);
      for (int64_t tokens : {1, 3, 8, 40}) {
        SCOPED_TRACE(testing::Message() << (fp8 ? "FP8" : "BF16") << ", hidden " << hidden << ", intermediate "
                                        << intermediate << " / shared " << shared_intermediate << ", " << tokens
                                        << " tokens");
        Tensor ids = Tensor::empty({tokens, params.top_k}, DType::kI32, Device::kCuda);
        Tensor weights = Tensor::empty({tokens, params.top_k}, DType::kF32, Device::kCuda);
        ops::ExpertOrder order = ops::ExpertOrder::allocate(params.num_experts, tokens * params.top_k, Device::kCuda);
        ops::moe_routing(to_gpu(random.normal_tensor({tokens, params.num_experts}, 2.0f)), Tensor(), params, ids,
                         weights, &order);
        Tensor input = gpu_testing::normal_f32_bf16_exact(random, {tokens, hidden}, 2.0f);
        // The CPU loop is per token and only checks its order's shapes, so an unfilled host order will do.
        const ops::ExpertOrder host_order =
            ops::ExpertOrder::allocate(params.num_experts, tokens * params.top_k, Device::kCpu);
        Tensor expected = Tensor::empty({tokens, hidden}, DType::kF32);
        ops::moe_experts(input, cuda::to_host(ids), cuda::to_host(weights), host_order, set.host, shared.host[0],
                         expected, /*quantize_activations=*/fp8);
        Tensor output = gpu_testing::poisoned({tokens, hidden}, DType::kBF16);  // NaNs, to be overwritten
        ops::moe_experts(to_gpu(input, DType::kBF16), ids, weights, order, set.device, shared.device[0], output, fp8);
        const double error = gpu_testing::worst_row_error(to_cpu_f32(output), expected, hidden);
        std::printf("MoE experts with shared experts (%s, intermediate %d / shared %d, %lld tokens): worst row error "
                    "%.2e\n", fp8 ? "FP8" : "BF16", intermediate, shared_intermediate, static_cast<long long>(tokens),
                    error);
        // On their own (40 tokens) the shared experts' activation is BF16 before its e4m3 quantization, where the
        // twin quantizes from float: the rounding moves a share of the e4m3 codes by a whole step.
        EXPECT_LT(error, fp8 && tokens > 8 ? 6e-2 : 1e-2);
      }
    }
  }
}

// The model's sequence, all on the stream: add_rms_norm writes the MoE input over a poisoned buffer, moe_route
// routes it, and moe_experts with input_is_final (its shared experts' first launch does not wait for the
// routing) reads it. Against the CPU doing the same, for a router the fused routing kernel takes (hidden 256,
// 16 experts) and one it does not (hidden 160: router projection, then routing and sort). Three layers in a
// row reuse the buffers, as the model does; a shared-expert CTA that read the rows before the norm wrote them
// would see NaNs or the previous layer's rows.
TEST(MoeExpertsGpu, SharedExpertsReadTheRoutedRowsWithoutWaitingLikeTheCpu) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  const ops::MoeRoutingParams params = routing(ScoringFunc::kSoftmax, TopkMethod::kGreedy, 16, 4, 1, 1, false, 1.0);
  for (int64_t hidden : {256, 160}) {
    const int64_t intermediate = 64, shared_intermediate = 128;
    ExpertSet set = make_experts(random, params.num_experts, hidden, intermediate, /*fp8=*/false);
    ExpertSet shared = make_experts(random, 1, hidden, shared_intermediate, /*fp8=*/false);
    const ops::LinearWeight host_router =
        gpu_testing::host_weight(gpu_testing::normal_f32_bf16_exact(random, {params.num_experts, hidden}, 0.1f), false);
    ops::LinearWeight device_router = host_router;
    device_router.weight = to_gpu(host_router.weight, DType::kBF16);
    for (int64_t tokens : {1, 5, 8}) {
      SCOPED_TRACE(testing::Message() << "hidden " << hidden << ", " << tokens << " tokens");
      Tensor device_normed = gpu_testing::poisoned({tokens, hidden}, DType::kBF16);
      Tensor ids = Tensor::empty({tokens, params.top_k}, DType::kI32, Device::kCuda);
      Tensor weights = Tensor::empty({tokens, params.top_k}, DType::kF32, Device::kCuda);
      Tensor logits = Tensor::empty({tokens, params.num_experts}, DType::kF32, Device::kCuda);
      ops::ExpertOrder order = ops::ExpertOrder::allocate(params.num_experts, tokens * params.top_k, Device::kCuda);
      Tensor residual = gpu_testing::normal_f32_bf16_exact(random, {tokens, hidden}, 2.0f);
      Tensor device_residual = to_gpu(residual, DType::kBF16);  // converted on the host: no kernel of its own
      Tensor gain = gpu_testing::round_to_bf16(random.normal_tensor({hidden}));
      const Tensor device_gain = to_gpu(gain, DType::kBF16);
      for (int layer = 0; layer < 3; ++layer) {
        SCOPED_TRACE(testing::Message() << "layer " << layer);
        Tensor addend = gpu_testing::normal_f32_bf16_exact(random, {tokens, hidden});
        const Tensor device_addend = to_gpu(addend, DType::kBF16);
        Tensor output = gpu_testing::poisoned({tokens, hidden}, DType::kBF16);
        ops::add_rms_norm(device_residual, device_addend, device_gain, 1e-6, device_normed);
        ops::moe_route(device_normed, device_router, Tensor(), params, logits, ids, weights, &order);
        ops::moe_experts(device_normed, ids, weights, order, set.device, shared.device[0], output,
                         /*quantize_activations=*/false, /*input_is_final=*/true);

        // The CPU from the device's own normed rows and routing (the routing itself has its own tests).
        const Tensor normed = to_cpu_f32(device_normed);
        const ops::ExpertOrder host_order =
            ops::ExpertOrder::allocate(params.num_experts, tokens * params.top_k, Device::kCpu);
        Tensor expected = Tensor::empty({tokens, hidden}, DType::kF32);
        ops::moe_experts(normed, cuda::to_host(ids), cuda::to_host(weights), host_order, set.host, shared.host[0],
                         expected);
        EXPECT_LT(gpu_testing::worst_row_error(to_cpu_f32(output), expected, hidden), 1e-2);
        // And the rows themselves are this layer's norm (not poison, not an older layer's).
        Tensor expected_normed = Tensor::empty({tokens, hidden}, DType::kF32);
        ops::add_rms_norm(residual, addend, gain, 1e-6, expected_normed);
        EXPECT_LT(gpu_testing::worst_row_error(normed, expected_normed, hidden), 1e-2);
      }
    }
  }
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
