// MoE routing on CUDA: one warp per token, lane l holding experts l, l + 32, ... (up to 256 experts).
// Same recipe as ops/moe_routing.h, in float: scores, optional group limiting (top-2 sum for sigmoid, max for
// softmax), then top_k rounds of a warp-wide arg-max (ties: the lower expert index). The correction bias is
// read before waiting on the previous kernel, and no per-token state goes to local memory.
// With an ExpertOrder requested, at most 32 tokens and 1024 assignments (decode), one CTA of 1024 threads routes
// (warp w takes token w) and then sorts the assignments by expert as moe_sort does, in the same kernel:
// one launch less on the MoE layer's dependent chain. Larger batches run the routing kernel, then moe_sort.
#include "kernels/common/launch.cuh"
#include "kernels/sm90/moe/moe_sort.cuh"
#include "kernels/sm90/moe/moe_sort.h"
#include "kernels/runtime/op_timing.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/cuda_ops.h"

namespace dsinfer::ops::cuda {

namespace {

constexpr int kExpertsPerLane = 8;
constexpr int kMaxExperts = 32 * kExpertsPerLane;
constexpr int kMaxGroups = 64;
constexpr int kWarpsPerBlock = 4;
constexpr int kFusedThreads = 1024;  // thread i counts and places assignment i; thread e scans expert e
constexpr int kFusedWarps = kFusedThreads / 32;
static_assert(kMaxExperts <= kFusedThreads, "the fused sort's scan gives each expert one thread");

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

// This lane's experts' correction bias (0 without one). The bias is a weight (no kernel writes it during a
// step), so callers fetch it before waiting on the previous kernel.
__device__ __forceinline__ void load_lane_bias(const float* bias, int experts, int lane,
                                               float (&lane_bias)[kExpertsPerLane]) {
#pragma unroll
  for (int i = 0; i < kExpertsPerLane; ++i) {
    const int expert = lane + 32 * i;
    lane_bias[i] = bias != nullptr && expert < experts ? bias[expert] : 0.0f;
  }
}

// Routes one token with the whole warp (every lane calls it; shuffles only, no barrier). row [experts] F32
// logits. Lane j < top_k ends with the j-th pick: its expert and final weight (normalized and scaled).
__device__ __forceinline__ void route_token(const float* row, const float (&lane_bias)[kExpertsPerLane],
                                            const RoutingArguments& arguments, int lane, int& chosen_id,
                                            float& chosen_weight) {
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
  chosen_id = 0;
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
  chosen_weight = chosen_score * normalizer * arguments.scaling;
}

// One warp per token, kWarpsPerBlock tokens per CTA.
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    moe_routing_kernel(const float* logits, const float* bias, int64_t tokens, RoutingArguments arguments,
                       int32_t* topk_ids, float* topk_weights) {
  dsinfer::cuda::allow_next_kernel();
  const int lane = threadIdx.x % 32;
  float lane_bias[kExpertsPerLane];
  load_lane_bias(bias, arguments.experts, lane, lane_bias);
  dsinfer::cuda::wait_for_previous_kernel();
  const int64_t token = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (token >= tokens) return;  // the whole warp: no barriers below, only this warp's shuffles
  int chosen_id;
  float chosen_weight;
  route_token(logits + token * arguments.experts, lane_bias, arguments, lane, chosen_id, chosen_weight);
  if (lane < arguments.top_k) {
    topk_ids[token * arguments.top_k + lane] = chosen_id;
    topk_weights[token * arguments.top_k + lane] = chosen_weight;
  }
}

// One CTA of kFusedThreads, tokens * top_k <= kFusedThreads: route every token (warp w: tokens w, w + 32, ...),
// keeping the ids in shared memory too, then count, scan and place the assignments as moe_sort_kernel does.
// Every barrier is reached by all threads (the routing loop is warp-uniform and nothing returns early).
__global__ void __launch_bounds__(kFusedThreads)
    moe_route_and_sort_kernel(const float* logits, const float* bias, int tokens, RoutingArguments arguments,
                              int32_t* topk_ids, float* topk_weights, int rows_per_tile,
                              dsinfer::cuda::ExpertSortOutputs order) {
  dsinfer::cuda::allow_next_kernel();
  __shared__ int32_t expert_rows[kMaxExperts];         // counts, then after the scan each expert's next free row
  __shared__ int32_t assigned_experts[kFusedThreads];  // [tokens * top_k] the routed ids
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, thread = threadIdx.x;
  float lane_bias[kExpertsPerLane];
  load_lane_bias(bias, arguments.experts, lane, lane_bias);
  if (thread < arguments.experts) expert_rows[thread] = 0;  // shared memory only: may overlap the previous kernel
  dsinfer::cuda::wait_for_previous_kernel();
  for (int token = warp; token < tokens; token += kFusedWarps) {
    int chosen_id;
    float chosen_weight;
    route_token(logits + static_cast<int64_t>(token) * arguments.experts, lane_bias, arguments, lane, chosen_id,
                chosen_weight);
    if (lane < arguments.top_k) {
      const int assignment = token * arguments.top_k + lane;
      topk_ids[assignment] = chosen_id;
      topk_weights[assignment] = chosen_weight;
      assigned_experts[assignment] = chosen_id;
    }
  }
  __syncthreads();
  // Thread i owns assignment i. An id outside [0, experts) (only from NaN logits) is left out, as moe_sort does.
  const int assignments = tokens * arguments.top_k;
  const int32_t id = thread < assignments ? assigned_experts[thread] : -1;
  if (id >= 0 && id < arguments.experts) atomicAdd(&expert_rows[id], 1);
  __syncthreads();
  dsinfer::cuda::scan_expert_counts(expert_rows, arguments.experts, rows_per_tile, order);
  if (thread < assignments) dsinfer::cuda::place_assignment(id, thread, arguments.experts, expert_rows, order);
}

}  // namespace

void moe_routing(const Tensor& router_logits, const Tensor& correction_bias, const MoeRoutingParams& params,
                 Tensor& topk_ids, Tensor& topk_weights, ExpertOrder* order) {
  dsinfer::cuda::OpTimer timer("moe_routing");
  DSINFER_CHECK(params.num_experts <= kMaxExperts && params.num_groups <= kMaxGroups && params.top_k <= 32,
                "ops::moe_routing on CUDA supports up to ", kMaxExperts, " experts, ", kMaxGroups,
                " groups and top_k 32; got ", params.num_experts, ", ", params.num_groups, ", ", params.top_k);
  const int64_t tokens = router_logits.dim(0), assignments = tokens * params.top_k;
  RoutingArguments arguments{params.num_experts,
                             params.top_k,
                             params.num_groups,
                             params.top_k_groups,
                             params.scoring_func == ScoringFunc::kSigmoid,
                             params.topk_method != TopkMethod::kGreedy,
                             params.normalize_top_k,
                             static_cast<float>(params.routed_scaling_factor)};
  const float* bias = correction_bias.defined() ? correction_bias.data_as<const float>() : nullptr;
  cudaStream_t stream = dsinfer::cuda::current_stream();
  // Fused only while every token has its own warp (at most 32 tokens): batch-128 decode got slower on the H200
  // when one CTA routed 4 tokens per warp (V2-Lite 11.35 vs 11.04 ms, V3 TP8 rank 53.5 vs 49.2 ms per step).
  if (order != nullptr && assignments <= kFusedThreads && tokens <= kFusedWarps) {
    const dsinfer::cuda::ExpertSortOutputs outputs{
        order->expert_offsets.data_as<int32_t>(), order->tile_offsets.data_as<int32_t>(),
        order->active_experts.data_as<int32_t>(), order->sorted_slots.data_as<int32_t>(),
        order->slot_positions.data_as<int32_t>()};
    dsinfer::cuda::launch_kernel("moe_route_and_sort_kernel", moe_route_and_sort_kernel, 1, kFusedThreads, 0, stream,
                                 router_logits.data_as<const float>(), bias, static_cast<int>(tokens), arguments,
                                 topk_ids.data_as<int32_t>(), topk_weights.data_as<float>(), kExpertOrderRowsPerTile,
                                 outputs);
    return;
  }
  if (tokens > 0) {
    dsinfer::cuda::launch_kernel("moe_routing_kernel", moe_routing_kernel, blocks_for(tokens, kWarpsPerBlock),
                                 kWarpsPerBlock * 32, 0, stream, router_logits.data_as<const float>(), bias, tokens,
                                 arguments, topk_ids.data_as<int32_t>(), topk_weights.data_as<float>());
  }
  if (order != nullptr) {
    dsinfer::cuda::moe_sort(topk_ids.data_as<const int32_t>(), assignments, params.num_experts,
                            kExpertOrderRowsPerTile, order->expert_offsets.data_as<int32_t>(),
                            order->tile_offsets.data_as<int32_t>(), order->active_experts.data_as<int32_t>(),
                            order->sorted_slots.data_as<int32_t>(), order->slot_positions.data_as<int32_t>(), stream);
  }
}

}  // namespace dsinfer::ops::cuda
