// MoE routing on CUDA: one warp per token, lane l holding experts l, l + 32, ... (up to 256 experts).
// Same recipe as ops/moe_routing.h, in float: scores, optional group limiting (top-2 sum for sigmoid, max for
// softmax), then top_k rounds of a warp-wide arg-max (ties: the lower expert index). The correction bias is
// read before waiting on the previous kernel, and no per-token state goes to local memory.
#include "kernels/common/launch.cuh"
#include "kernels/runtime/op_timing.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/cuda_ops.h"

namespace dsinfer::ops::cuda {

namespace {

constexpr int kExpertsPerLane = 8;
constexpr int kMaxExperts = 32 * kExpertsPerLane;
constexpr int kMaxGroups = 64;
constexpr int kWarpsPerBlock = 4;

struct RoutingArguments {
  int experts, top_k, groups, top_k_groups;
  bool sigmoid, grouped, normalize;
  float scaling;
};

// (value, index) arg-max across the warp; ties go to the lower index.
__device__ __forceinline__ void warp_arg_max(float& value, int& index) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    float other_value = __shfl_xor_sync(0xffffffffu, value, offset);
    int other_index = __shfl_xor_sync(0xffffffffu, index, offset);
    if (other_value > value || (other_value == value && other_index < index)) {
      value = other_value;
      index = other_index;
    }
  }
}

__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    moe_routing_kernel(const float* logits, const float* bias, int64_t tokens, RoutingArguments arguments,
                       int32_t* topk_ids, float* topk_weights) {
  dsinfer::cuda::allow_next_kernel();
  const int lane = threadIdx.x % 32;
  // The correction bias is a weight (no kernel writes it during a step): fetched while the previous kernel runs.
  float lane_bias[kExpertsPerLane];
#pragma unroll
  for (int i = 0; i < kExpertsPerLane; ++i) {
    const int expert = lane + 32 * i;
    lane_bias[i] = bias != nullptr && expert < arguments.experts ? bias[expert] : 0.0f;
  }
  dsinfer::cuda::wait_for_previous_kernel();
  const int64_t token = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (token >= tokens) return;  // the whole warp: no barriers below, only this warp's shuffles
  const float* row = logits + token * arguments.experts;
  float scores[kExpertsPerLane], choice[kExpertsPerLane];
  float largest = -INFINITY;
#pragma unroll
  for (int i = 0; i < kExpertsPerLane; ++i) {
    int expert = lane + 32 * i;
    scores[i] = expert < arguments.experts ? row[expert] : -INFINITY;
    largest = fmaxf(largest, scores[i]);
  }
  if (arguments.sigmoid) {
#pragma unroll
    for (int i = 0; i < kExpertsPerLane; ++i) {
      int expert = lane + 32 * i;
      scores[i] = expert < arguments.experts ? 1.0f / (1.0f + expf(-scores[i])) : 0.0f;
      choice[i] = expert < arguments.experts ? scores[i] + lane_bias[i] : -INFINITY;
    }
  } else {
    largest = dsinfer::cuda::warp_max(largest);
    float total = 0.0f;
#pragma unroll
    for (int i = 0; i < kExpertsPerLane; ++i) {
      int expert = lane + 32 * i;
      scores[i] = expert < arguments.experts ? expf(scores[i] - largest) : 0.0f;
      total += scores[i];
    }
    total = dsinfer::cuda::warp_sum(total);
#pragma unroll
    for (int i = 0; i < kExpertsPerLane; ++i) {
      scores[i] /= total;
      choice[i] = lane + 32 * i < arguments.experts ? scores[i] : -INFINITY;
    }
  }

  if (arguments.grouped) {
    const int group_size = arguments.experts / arguments.groups;
    // Group g's score lives in lane g % 32 (slot g / 32), so picking the best groups is a warp-wide arg-max per
    // round instead of a serial scan over an array in local memory.
    float lane_group_scores[kMaxGroups / 32];
#pragma unroll
    for (int slot = 0; slot < kMaxGroups / 32; ++slot) lane_group_scores[slot] = -INFINITY;
    for (int g = 0; g < arguments.groups; ++g) {
      // This lane's best two in group g, then merged across the warp.
      float first = -INFINITY, second = -INFINITY;
#pragma unroll
      for (int i = 0; i < kExpertsPerLane; ++i) {
        int expert = lane + 32 * i;
        if (expert < arguments.experts && expert / group_size == g) {
          float value = choice[i];
          if (value > first) {
            second = first;
            first = value;
          } else if (value > second) {
            second = value;
          }
        }
      }
#pragma unroll
      for (int offset = 16; offset > 0; offset >>= 1) {
        float other_first = __shfl_xor_sync(0xffffffffu, first, offset);
        float other_second = __shfl_xor_sync(0xffffffffu, second, offset);
        float merged_first = fmaxf(first, other_first);
        second = fmaxf(fminf(first, other_first), fmaxf(second, other_second));
        first = merged_first;
      }
      const float group_score = arguments.sigmoid ? first + second : first;
#pragma unroll
      for (int slot = 0; slot < kMaxGroups / 32; ++slot)
        if (g == lane + 32 * slot) lane_group_scores[slot] = group_score;
    }
    // Keep the top_k_groups best groups (ties: lower group index); every lane ends with the same mask.
    uint64_t kept = 0;
    for (int round = 0; round < arguments.top_k_groups; ++round) {
      float value = -INFINITY;
      int index = 0x7fffffff;  // no candidate: loses to any group, even one scored -inf
#pragma unroll
      for (int slot = 0; slot < kMaxGroups / 32; ++slot) {
        const int g = lane + 32 * slot;
        if (g < arguments.groups && !((kept >> g) & 1u) &&
            (index == 0x7fffffff || lane_group_scores[slot] > value)) {
          value = lane_group_scores[slot];
          index = g;
        }
      }
      warp_arg_max(value, index);
      kept |= uint64_t{1} << index;
    }
#pragma unroll
    for (int i = 0; i < kExpertsPerLane; ++i) {
      int expert = lane + 32 * i;
      if (expert < arguments.experts && !((kept >> (expert / group_size)) & 1u)) choice[i] = -INFINITY;
    }
  }

  float chosen_score = 0.0f, total = 0.0f;  // lane j keeps the j-th pick's score
  int chosen_id = 0;
  for (int round = 0; round < arguments.top_k; ++round) {
    float value = -INFINITY;
    int index = 0x7fffffff;
#pragma unroll
    for (int i = 0; i < kExpertsPerLane; ++i) {
      int expert = lane + 32 * i;
      if (expert < arguments.experts && (choice[i] > value || (choice[i] == value && expert < index))) {
        value = choice[i];
        index = expert;
      }
    }
    warp_arg_max(value, index);
    float score = 0.0f;
#pragma unroll
    for (int i = 0; i < kExpertsPerLane; ++i) {
      if (lane + 32 * i == index) {
        score = scores[i];
        choice[i] = -INFINITY;  // taken: `index` was this lane's; -inf keeps it out of later rounds
      }
    }
    score = __shfl_sync(0xffffffffu, score, index % 32);
    total += score;
    if (lane == round) {
      chosen_score = score;
      chosen_id = index;
    }
  }
  float normalizer = arguments.normalize && arguments.top_k > 1 ? 1.0f / (total + 1e-20f) : 1.0f;
  if (lane < arguments.top_k) {
    topk_ids[token * arguments.top_k + lane] = chosen_id;
    topk_weights[token * arguments.top_k + lane] = chosen_score * normalizer * arguments.scaling;
  }
}

}  // namespace

void moe_routing(const Tensor& router_logits, const Tensor& correction_bias, const MoeRoutingParams& params,
                 Tensor& topk_ids, Tensor& topk_weights) {
  dsinfer::cuda::OpTimer timer("moe_routing");
  DSINFER_CHECK(params.num_experts <= kMaxExperts && params.num_groups <= kMaxGroups && params.top_k <= 32,
                "ops::moe_routing on CUDA supports up to ", kMaxExperts, " experts, ", kMaxGroups,
                " groups and top_k 32; got ", params.num_experts, ", ", params.num_groups, ", ", params.top_k);
  const int64_t tokens = router_logits.dim(0);
  if (tokens == 0) return;
  RoutingArguments arguments{params.num_experts,
                             params.top_k,
                             params.num_groups,
                             params.top_k_groups,
                             params.scoring_func == ScoringFunc::kSigmoid,
                             params.topk_method != TopkMethod::kGreedy,
                             params.normalize_top_k,
                             static_cast<float>(params.routed_scaling_factor)};
  const float* bias = correction_bias.defined() ? correction_bias.data_as<const float>() : nullptr;
  dsinfer::cuda::launch_kernel("moe_routing_kernel", moe_routing_kernel, blocks_for(tokens, kWarpsPerBlock),
                               kWarpsPerBlock * 32, 0, dsinfer::cuda::current_stream(),
                               router_logits.data_as<const float>(), bias, tokens, arguments,
                               topk_ids.data_as<int32_t>(), topk_weights.data_as<float>());
}

}  // namespace dsinfer::ops::cuda
