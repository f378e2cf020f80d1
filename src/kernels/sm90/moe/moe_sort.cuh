// Device side of the expert sort, shared by moe_sort_kernel (moe_sort.cu) and the fused routing + sort kernel
// (ops/cuda/moe_routing.cu): one CTA whose thread e owns expert e in a parallel scan over the experts.
// Per-expert counts live in shared memory; the caller counts into them, then calls scan_expert_counts (every
// thread, uniformly: it holds barriers), then places each assignment with place_assignment.
#pragma once

#include <cstdint>

namespace dsinfer::cuda {

// Where one sort's results go (global memory); see moe_sort.h for each array's meaning.
struct ExpertSortOutputs {
  int32_t* expert_offsets;  // [experts + 1]
  int32_t* tile_offsets;    // [experts + 1]
  int32_t* active_experts;  // [experts + 1]
  int32_t* sorted_slots;    // [assignments]
  int32_t* slot_positions;  // [assignments]
};

namespace expert_sort {

// Per-expert quantities that are prefix-summed over the experts in one pass.
struct ExpertTotals {
  int32_t rows, tiles, active;
};

__device__ __forceinline__ ExpertTotals shuffle_up(const ExpertTotals& value, int offset) {
  return {__shfl_up_sync(0xffffffffu, value.rows, offset), __shfl_up_sync(0xffffffffu, value.tiles, offset),
          __shfl_up_sync(0xffffffffu, value.active, offset)};
}

// Inclusive prefix sum across the warp's lanes.
__device__ __forceinline__ ExpertTotals warp_inclusive_scan(ExpertTotals value) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int offset = 1; offset < 32; offset <<= 1) {
    const ExpertTotals lower = shuffle_up(value, offset);
    if (lane >= offset) {
      value.rows += lower.rows;
      value.tiles += lower.tiles;
      value.active += lower.active;
    }
  }
  return value;
}

// Exclusive prefix sum over the block in thread order (blockDim.x a multiple of 32): a scan inside each warp,
// one barrier to publish the warp totals, then every warp scans those totals itself. Every thread calls it.
__device__ __forceinline__ ExpertTotals block_exclusive_scan(const ExpertTotals& value) {
  __shared__ ExpertTotals warp_totals[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  const ExpertTotals inclusive = warp_inclusive_scan(value);
  if (lane == 31) warp_totals[warp] = inclusive;
  __syncthreads();
  const ExpertTotals totals = warp_inclusive_scan(lane < warps ? warp_totals[lane] : ExpertTotals{0, 0, 0});
  // Lane warp - 1 holds the sum over the warps before this one.
  const int source = warp > 0 ? warp - 1 : 0;
  ExpertTotals before{__shfl_sync(0xffffffffu, totals.rows, source), __shfl_sync(0xffffffffu, totals.tiles, source),
                      __shfl_sync(0xffffffffu, totals.active, source)};
  if (warp == 0) before = {0, 0, 0};
  return {before.rows + inclusive.rows - value.rows, before.tiles + inclusive.tiles - value.tiles,
          before.active + inclusive.active - value.active};
}

}  // namespace expert_sort

// expert_rows [experts] (shared) holds each expert's row count, complete (the caller's barrier after counting).
// Writes the offsets, tile offsets and active list, and turns expert_rows into each expert's first free row;
// ends with a barrier, so place_assignment may follow at once. Needs experts <= blockDim.x; every thread calls.
__device__ __forceinline__ void scan_expert_counts(int32_t* expert_rows, int experts, int rows_per_tile,
                                                   const ExpertSortOutputs& out) {
  const int expert = threadIdx.x;
  expert_sort::ExpertTotals own{0, 0, 0};
  if (expert < experts) {
    own.rows = expert_rows[expert];
    own.tiles = (own.rows + rows_per_tile - 1) / rows_per_tile;
    own.active = own.rows > 0 ? 1 : 0;
  }
  const expert_sort::ExpertTotals before = expert_sort::block_exclusive_scan(own);
  if (expert < experts) {
    out.expert_offsets[expert] = before.rows;
    out.tile_offsets[expert] = before.tiles;
    if (own.active) out.active_experts[before.active] = expert;
    expert_rows[expert] = before.rows;  // only this thread reads or writes this expert's entry in this phase
  }
  if (expert == experts - 1) {
    out.expert_offsets[experts] = before.rows + own.rows;
    out.tile_offsets[experts] = before.tiles + own.tiles;
    out.active_experts[experts] = before.active + own.active;
  }
  __syncthreads();
}

// Gives assignment `index` (expert `id`) the next free row of its expert; -1 for an id outside [0, experts).
__device__ __forceinline__ void place_assignment(int32_t id, int64_t index, int experts, int32_t* expert_rows,
                                                 const ExpertSortOutputs& out) {
  int32_t position = -1;
  if (id >= 0 && id < experts) {
    position = atomicAdd(&expert_rows[id], 1);
    out.sorted_slots[position] = static_cast<int32_t>(index);
  }
  out.slot_positions[index] = position;
}

}  // namespace dsinfer::cuda
