// MoE routing on CUDA: one warp per token, lane l holding experts l, l + 32, ... (up to 256 experts).
// Same recipe as ops/moe_routing.h, in float: scores, optional group limiting (top-2 sum for sigmoid, max for
// softmax), then top_k rounds of a warp-wide arg-max (ties: the lower expert index). The correction bias is
// read before waiting on the previous kernel, and no per-token state goes to local memory.
// With an ExpertOrder requested, at most 32 tokens and 1024 assignments (decode), one CTA of 1024 threads routes
// (warp w takes token w) and then sorts the assignments by expert as moe_sort does, in the same kernel:
// one launch less on the MoE layer's dependent chain. Larger batches run the routing kernel, then moe_sort.
// moe_route goes one step further at decode sizes (at most 8 tokens, a BF16 router of at most 256 KiB): the
// same CTA first forms the router logits on the tensor cores, its weights fetched before the previous kernel
// ends (moe_router_route_and_sort_kernel), so the router's own GEMM launch leaves the chain too.
// Launch order: every kernel here lets the next one start (programmatic dependent launch) only after its own
// wait, so whatever the kernels before a routing op wrote (the routed hidden rows) is final before any kernel
// after it starts. ops::moe_experts relies on it (input_is_final): the shared experts' CTAs of its first
// launch read the rows without waiting for the routing.
#include "kernels/common/launch.cuh"
#include "kernels/common/mma_sm80.cuh"
#include "kernels/sm90/moe/moe_sort.cuh"
#include "kernels/sm90/moe/moe_sort.h"
#include "kernels/runtime/op_timing.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/cuda_ops.h"
#include "ops/cuda/vector_access.cuh"

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
  const int lane = threadIdx.x % 32;
  float lane_bias[kExpertsPerLane];
  load_lane_bias(bias, arguments.experts, lane, lane_bias);
  dsinfer::cuda::wait_for_previous_kernel();
  dsinfer::cuda::allow_next_kernel();  // after the wait: see "Launch order" above
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

// The routing and expert sort of tokens * top_k <= kFusedThreads assignments by one CTA of kFusedThreads, the
// tail of both fused kernels: route every token (warp w: tokens w, w + 32, ...) from logits [tokens, E] (global
// or shared memory), keeping the ids in assigned_experts [kFusedThreads] (shared) too, then count, scan and place
// the assignments as moe_sort_kernel does. expert_rows [E] (shared) must be zero; the barrier after the routing
// publishes it with the ids. Every thread calls it: every barrier is reached by all threads (the routing loop is
// warp-uniform and nothing returns early).
__device__ __forceinline__ void route_and_sort_tokens(const float* logits, const float (&lane_bias)[kExpertsPerLane],
                                                      int tokens, const RoutingArguments& arguments,
                                                      int32_t* topk_ids, float* topk_weights, int rows_per_tile,
                                                      const dsinfer::cuda::ExpertSortOutputs& order,
                                                      int32_t* expert_rows, int32_t* assigned_experts) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, thread = threadIdx.x;
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

// One CTA of kFusedThreads, tokens * top_k <= kFusedThreads: routes and sorts the given logits.
__global__ void __launch_bounds__(kFusedThreads)
    moe_route_and_sort_kernel(const float* logits, const float* bias, int tokens, RoutingArguments arguments,
                              int32_t* topk_ids, float* topk_weights, int rows_per_tile,
                              dsinfer::cuda::ExpertSortOutputs order) {
  __shared__ int32_t expert_rows[kMaxExperts];         // counts, then after the scan each expert's next free row
  __shared__ int32_t assigned_experts[kFusedThreads];  // [tokens * top_k] the routed ids
  float lane_bias[kExpertsPerLane];
  load_lane_bias(bias, arguments.experts, threadIdx.x % 32, lane_bias);
  // Shared memory only: may overlap the previous kernel.
  if (threadIdx.x < arguments.experts) expert_rows[threadIdx.x] = 0;
  dsinfer::cuda::wait_for_previous_kernel();
  dsinfer::cuda::allow_next_kernel();  // after the wait: see "Launch order" above
  route_and_sort_tokens(logits, lane_bias, tokens, arguments, topk_ids, topk_weights, rows_per_tile, order,
                        expert_rows, assigned_experts);
}

// ---- The router projection in front of the fused routing and sort (moe_route) ----
// Router logits = hidden [T, K] x weight [E, K]^T on the tensor cores (mma.sync m16n8k16, BF16 in, F32 sums),
// weights as A (16 experts a row tile), tokens as B (token t = column t, so T <= 8), operands swapped as in the
// skinny GEMM: each lane loads 16 contiguous bytes (8 k values) of two weight rows and of one token row, and
// both operands use the same k-to-slot mapping, which a dot product allows. A K block is 32 k: lane quad q
// holds k [8q, 8q + 8), two mma k-steps. The E / 16 row tiles split the 32 warps evenly; the warps of a tile
// take interleaved K blocks (part, part + warps_per_tile, ...) and add their 16 x 8 partial sums in shared
// memory in a fixed order (reproducible logits).
// 256 KiB of weights is an SM's whole register file, so they cannot all sit in registers: a warp's first
// kRouterRegisterBlocks K blocks go to registers (32 per thread) and the rest to shared memory through cp.async,
// all issued before wait_for_previous_kernel (weights: no kernel writes them during a step).
// Limits (router_kernel_fits checks them on the host): E in {16, 32, 64, 128, 256} (a multiple of 16 whose
// row tiles divide the 32 warps), K a multiple of 64 and at most 4096, E x K x 2 bytes <= 256 KiB (so a warp
// has at most kRouterBlocksPerWarp K blocks), 1-8 tokens, hidden and weight 16-byte aligned.
constexpr int kRouterMaxTokens = 8;        // the mma's n
constexpr int kRouterTileRows = 16;        // the mma's m: experts per row tile
constexpr int kRouterBlockK = 32;          // k of one K block: 4 lane quads x 8 values
constexpr int kRouterBlocksPerWarp = 8;    // 32 warps x 8 blocks x 16 rows x 32 k x 2 bytes = 256 KiB
constexpr int kRouterRegisterBlocks = 4;   // blocks in registers: 4 x 2 rows x 16 bytes = 32 registers a thread
constexpr int kRouterMaxHidden = 4096;     // bounds the token rows' shared memory (66 KB at 8 tokens)
constexpr int64_t kRouterMaxWeightBytes = 256 * 1024;
constexpr int kRouterTokenPadding = 32;    // elements per token row: rows 64 bytes apart mod 128, so the two
                                           // rows a quarter warp reads fall in disjoint banks
constexpr int kRouterPartialFloats = kRouterTileRows * kRouterMaxTokens;  // one warp's [16 rows][8 tokens]

// Byte offsets into the kernel's dynamic shared memory; every region starts 16-byte aligned (E is a multiple
// of 16, K of 64).
struct RouterSharedLayout {
  int partials;  // [32 warps][16 rows][8 tokens] F32; the weight blocks kept in shared memory come first
  int logits;    // [T, E] F32
  int bias;      // [E] F32
  int tokens;    // [T, K + kRouterTokenPadding] BF16
  int total;
};

__host__ __device__ inline int router_blocks_per_warp(int experts, int hidden_size) {
  const int warps_per_tile = kFusedWarps / (experts / kRouterTileRows);
  return (hidden_size / kRouterBlockK + warps_per_tile - 1) / warps_per_tile;
}

__host__ __device__ inline RouterSharedLayout router_shared_layout(int experts, int hidden_size, int tokens) {
  const int blocks = router_blocks_per_warp(experts, hidden_size);
  const int shared_blocks = blocks > kRouterRegisterBlocks ? blocks - kRouterRegisterBlocks : 0;
  RouterSharedLayout layout;
  layout.partials = shared_blocks * kFusedWarps * 2 * 32 * 16;  // [block][warp][row half][lane] 16 bytes
  layout.logits = layout.partials + kFusedWarps * kRouterPartialFloats * 4;
  layout.bias = layout.logits + tokens * experts * 4;
  layout.tokens = layout.bias + experts * 4;
  layout.total = layout.tokens + tokens * (hidden_size + kRouterTokenPadding) * 2;
  return layout;
}
// Each region at its largest within the limits: 128 KiB of weights, partials, 8 x 256 logits, 256 biases and
// 8 token rows of 4096 (+ padding). With the ~5.4 KiB of static shared memory this stays under sm_90's 227 KiB.
constexpr int kRouterMaxSharedBytes = (kRouterBlocksPerWarp - kRouterRegisterBlocks) * kFusedWarps * 2 * 32 * 16 +
                                      kFusedWarps * kRouterPartialFloats * 4 + kRouterMaxTokens * kMaxExperts * 4 +
                                      kMaxExperts * 4 + kRouterMaxTokens * (kRouterMaxHidden + kRouterTokenPadding) * 2;

struct RouterInputs {
  const __nv_bfloat16* hidden;  // [tokens, hidden_size]
  const __nv_bfloat16* weight;  // [experts, hidden_size]
  const float* bias;            // [experts], or null
  float* router_logits;         // [tokens, experts]
  int tokens, hidden_size;
};

// Index (in 16-byte units) of a lane's slice of a weight block kept in shared memory: a warp's 32 lanes read
// 512 consecutive bytes.
__device__ __forceinline__ int shared_weight_index(int slot, int warp, int half, int lane) {
  return (((slot - kRouterRegisterBlocks) * kFusedWarps + warp) * 2 + half) * 32 + lane;
}

__global__ void __launch_bounds__(kFusedThreads)
    moe_router_route_and_sort_kernel(RouterInputs router, RoutingArguments arguments, int32_t* topk_ids,
                                     float* topk_weights, int rows_per_tile, dsinfer::cuda::ExpertSortOutputs order) {
  extern __shared__ __align__(16) unsigned char shared_bytes[];
  __shared__ int32_t expert_rows[kMaxExperts];         // as in moe_route_and_sort_kernel
  __shared__ int32_t assigned_experts[kFusedThreads];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, thread = threadIdx.x;
  const int group = lane / 4, quad = lane % 4;  // mma fragment coordinates: row (A) / column (B), k slot
  const int experts = arguments.experts, hidden_size = router.hidden_size, tokens = router.tokens;
  const RouterSharedLayout layout = router_shared_layout(experts, hidden_size, tokens);
  uint4* shared_weights = reinterpret_cast<uint4*>(shared_bytes);
  float* partials = reinterpret_cast<float*>(shared_bytes + layout.partials);
  float* shared_logits = reinterpret_cast<float*>(shared_bytes + layout.logits);
  float* shared_bias = reinterpret_cast<float*>(shared_bytes + layout.bias);
  __nv_bfloat16* shared_tokens = reinterpret_cast<__nv_bfloat16*>(shared_bytes + layout.tokens);

  // This warp's row tile (experts 16 * tile ...) and K blocks part, part + warps_per_tile, ...; this lane's
  // slices of rows `group` and `group + 8` of the tile at k = block * 32 + 8 * quad.
  const int warps_per_tile = kFusedWarps / (experts / kRouterTileRows);
  const int tile = warp / warps_per_tile, part = warp % warps_per_tile;
  const int k_blocks = hidden_size / kRouterBlockK;
  const __nv_bfloat16* weight_rows[2] = {
      router.weight + static_cast<int64_t>(tile * kRouterTileRows + group) * hidden_size + 8 * quad,
      router.weight + static_cast<int64_t>(tile * kRouterTileRows + group + 8) * hidden_size + 8 * quad};
  const uint4 zero = make_uint4(0, 0, 0, 0);
  uint4 register_weights[kRouterRegisterBlocks][2];
#pragma unroll
  for (int slot = 0; slot < kRouterRegisterBlocks; ++slot) {
    const int block = part + slot * warps_per_tile;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      register_weights[slot][half] =
          block < k_blocks ? __ldg(reinterpret_cast<const uint4*>(weight_rows[half] + block * kRouterBlockK)) : zero;
    }
  }
#pragma unroll
  for (int slot = kRouterRegisterBlocks; slot < kRouterBlocksPerWarp; ++slot) {
    const int block = part + slot * warps_per_tile;
    if (block >= k_blocks) break;  // warp-uniform
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int index = shared_weight_index(slot, warp, half, lane);
      dsinfer::cuda::cp_async_16(dsinfer::cuda::shared_address(&shared_weights[index]),
                                 weight_rows[half] + block * kRouterBlockK, 16);
    }
  }
  dsinfer::cuda::cp_async_commit();
  if (thread < experts) {
    expert_rows[thread] = 0;
    shared_bias[thread] = router.bias != nullptr ? __ldg(router.bias + thread) : 0.0f;
  }
  dsinfer::cuda::wait_for_previous_kernel();
  dsinfer::cuda::allow_next_kernel();  // after the wait: see "Launch order" above

  // The token rows (the previous kernel's output) into shared memory, rows padded.
  const int token_pitch = hidden_size + kRouterTokenPadding, row_chunks = hidden_size / 8;
  for (int chunk = thread; chunk < tokens * row_chunks; chunk += kFusedThreads) {
    const int token = chunk / row_chunks, column = chunk % row_chunks * 8;
    dsinfer::cuda::cp_async_16(dsinfer::cuda::shared_address(shared_tokens + token * token_pitch + column),
                               router.hidden + static_cast<int64_t>(token) * hidden_size + column, 16);
  }
  dsinfer::cuda::cp_async_commit();
  dsinfer::cuda::cp_async_wait<0>();
  __syncthreads();

  // accumulator: this warp's partial logits of rows group / group + 8, tokens 2 * quad / 2 * quad + 1.
  float accumulator[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  const __nv_bfloat16* token_row = shared_tokens + group * token_pitch + 8 * quad;  // B column `group`
#pragma unroll
  for (int slot = 0; slot < kRouterBlocksPerWarp; ++slot) {
    const int block = part + slot * warps_per_tile;
    if (block >= k_blocks) break;  // warp-uniform
    uint4 low, high;  // rows group and group + 8
    if (slot < kRouterRegisterBlocks) {
      low = register_weights[slot][0];
      high = register_weights[slot][1];
    } else {
      low = shared_weights[shared_weight_index(slot, warp, 0, lane)];
      high = shared_weights[shared_weight_index(slot, warp, 1, lane)];
    }
    const uint4 x = group < tokens ? *reinterpret_cast<const uint4*>(token_row + block * kRouterBlockK) : zero;
    // k-step 1 takes each slice's words 0-1 (k 8q .. 8q + 3), step 2 words 2-3, for A and B alike.
    const uint32_t first_step[4] = {low.x, high.x, low.y, high.y};
    const uint32_t second_step[4] = {low.z, high.z, low.w, high.w};
    dsinfer::cuda::mma_bf16_16816(accumulator, first_step, x.x, x.y);
    dsinfer::cuda::mma_bf16_16816(accumulator, second_step, x.z, x.w);
  }
  float* warp_partials = partials + warp * kRouterPartialFloats;  // [16 rows][8 tokens]
  *reinterpret_cast<float2*>(warp_partials + group * kRouterMaxTokens + 2 * quad) =
      make_float2(accumulator[0], accumulator[1]);
  *reinterpret_cast<float2*>(warp_partials + (group + 8) * kRouterMaxTokens + 2 * quad) =
      make_float2(accumulator[2], accumulator[3]);
  __syncthreads();

  // Logit (token, expert) = the sum of its tile's warps' partials, in warp order.
  for (int index = thread; index < tokens * experts; index += kFusedThreads) {
    const int token = index % tokens, expert = index / tokens;  // token fastest: conflict-free partial reads
    const float* partial = partials + (expert / kRouterTileRows) * warps_per_tile * kRouterPartialFloats +
                           expert % kRouterTileRows * kRouterMaxTokens + token;
    float logit = 0.0f;
    for (int p = 0; p < warps_per_tile; ++p) logit += partial[p * kRouterPartialFloats];
    shared_logits[token * experts + expert] = logit;
    router.router_logits[token * experts + expert] = logit;
  }
  __syncthreads();
  float lane_bias[kExpertsPerLane];
#pragma unroll
  for (int i = 0; i < kExpertsPerLane; ++i) lane_bias[i] = lane + 32 * i < experts ? shared_bias[lane + 32 * i] : 0.0f;
  route_and_sort_tokens(shared_logits, lane_bias, tokens, arguments, topk_ids, topk_weights, rows_per_tile, order,
                        expert_rows, assigned_experts);
}

RoutingArguments routing_arguments(const MoeRoutingParams& params) {
  return {params.num_experts,
          params.top_k,
          params.num_groups,
          params.top_k_groups,
          params.scoring_func == ScoringFunc::kSigmoid,
          params.topk_method != TopkMethod::kGreedy,
          params.normalize_top_k,
          static_cast<float>(params.routed_scaling_factor)};
}

void check_routing_limits(const MoeRoutingParams& params) {
  DSINFER_CHECK(params.num_experts <= kMaxExperts && params.num_groups <= kMaxGroups && params.top_k <= 32,
                "ops::moe_routing on CUDA supports up to ", kMaxExperts, " experts, ", kMaxGroups,
                " groups and top_k 32; got ", params.num_experts, ", ", params.num_groups, ", ", params.top_k);
}

dsinfer::cuda::ExpertSortOutputs sort_outputs(ExpertOrder& order) {
  return {order.expert_offsets.data_as<int32_t>(), order.tile_offsets.data_as<int32_t>(),
          order.active_experts.data_as<int32_t>(), order.sorted_slots.data_as<int32_t>(),
          order.slot_positions.data_as<int32_t>()};
}

// True when moe_router_route_and_sort_kernel can take this call: its limits (above), checked before the launch.
bool router_kernel_fits(const Tensor& hidden, const LinearWeight& router, const ExpertOrder* order) {
  if (order == nullptr || hidden.dtype() != DType::kBF16 || router.weight.dtype() != DType::kBF16) return false;
  const int64_t tokens = hidden.dim(0), experts = router.out_features(), hidden_size = router.in_features();
  return tokens >= 1 && tokens <= kRouterMaxTokens && experts * hidden_size * 2 <= kRouterMaxWeightBytes &&
         experts % kRouterTileRows == 0 && kFusedWarps % (experts / kRouterTileRows) == 0 &&
         hidden_size % 64 == 0 && hidden_size <= kRouterMaxHidden && vector_aligned(hidden.data()) &&
         vector_aligned(router.weight.data());
}

}  // namespace

void moe_routing(const Tensor& router_logits, const Tensor& correction_bias, const MoeRoutingParams& params,
                 Tensor& topk_ids, Tensor& topk_weights, ExpertOrder* order) {
  dsinfer::cuda::OpTimer timer("moe_routing");
  check_routing_limits(params);
  const int64_t tokens = router_logits.dim(0), assignments = tokens * params.top_k;
  const RoutingArguments arguments = routing_arguments(params);
  const float* bias = correction_bias.defined() ? correction_bias.data_as<const float>() : nullptr;
  cudaStream_t stream = dsinfer::cuda::current_stream();
  // Fused only while every token has its own warp (at most 32 tokens): batch-128 decode got slower on the H200
  // when one CTA routed 4 tokens per warp (V2-Lite 11.35 vs 11.04 ms, V3 TP8 rank 53.5 vs 49.2 ms per step).
  if (order != nullptr && assignments <= kFusedThreads && tokens <= kFusedWarps) {
    dsinfer::cuda::launch_kernel("moe_route_and_sort_kernel", moe_route_and_sort_kernel, 1, kFusedThreads, 0, stream,
                                 router_logits.data_as<const float>(), bias, static_cast<int>(tokens), arguments,
                                 topk_ids.data_as<int32_t>(), topk_weights.data_as<float>(), kExpertOrderRowsPerTile,
                                 sort_outputs(*order));
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

void moe_route(const Tensor& hidden, const LinearWeight& router, const Tensor& correction_bias,
               const MoeRoutingParams& params, Tensor& router_logits, Tensor& topk_ids, Tensor& topk_weights,
               ExpertOrder* order) {
  if (!router_kernel_fits(hidden, router, order)) {
    ops::cuda::linear(hidden, router, router_logits, /*quantize_activations=*/false);
    ops::cuda::moe_routing(router_logits, correction_bias, params, topk_ids, topk_weights, order);
    return;
  }
  dsinfer::cuda::OpTimer timer("moe_route");
  check_routing_limits(params);
  static const bool configured = [] {
    DSINFER_CUDA_CHECK(cudaFuncSetAttribute(moe_router_route_and_sort_kernel,
                                            cudaFuncAttributeMaxDynamicSharedMemorySize, kRouterMaxSharedBytes));
    return true;
  }();
  (void)configured;
  const RouterInputs inputs{hidden.data_as<const __nv_bfloat16>(), router.weight.data_as<const __nv_bfloat16>(),
                            correction_bias.defined() ? correction_bias.data_as<const float>() : nullptr,
                            router_logits.data_as<float>(), static_cast<int>(hidden.dim(0)),
                            static_cast<int>(hidden.dim(1))};
  const int shared_bytes = router_shared_layout(params.num_experts, inputs.hidden_size, inputs.tokens).total;
  dsinfer::cuda::launch_kernel("moe_router_route_and_sort_kernel", moe_router_route_and_sort_kernel, 1,
                               kFusedThreads, shared_bytes, dsinfer::cuda::current_stream(), inputs,
                               routing_arguments(params), topk_ids.data_as<int32_t>(), topk_weights.data_as<float>(),
                               kExpertOrderRowsPerTile, sort_outputs(*order));
}

}  // namespace dsinfer::ops::cuda
