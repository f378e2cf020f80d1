#include "kernels/sm90/moe/moe_sort.h"

#include <cuda_bf16.h>

#include "core/error.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/launch.cuh"

namespace dsinfer::cuda {

namespace {

constexpr int kSortThreads = 1024;
constexpr int kMaxExperts = kSortThreads;  // thread e owns expert e in the scan

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

// One CTA of kSortThreads: count per expert in shared memory, a parallel scan over the experts, then scatter
// with per-expert cursors. Three barriers, and global memory is read only after the previous kernel's wait.
__global__ void __launch_bounds__(kSortThreads)
    moe_sort_kernel(const int32_t* topk_ids, int64_t assignments, int experts, int rows_per_tile,
                    int32_t* expert_offsets, int32_t* tile_offsets, int32_t* active_experts, int32_t* sorted_slots,
                    int32_t* slot_positions) {
  allow_next_kernel();
  __shared__ int32_t expert_rows[kMaxExperts];  // counts, then after the scan each expert's next free row
  const int expert = threadIdx.x;
  if (expert < experts) expert_rows[expert] = 0;  // shared memory only: may overlap the previous kernel
  wait_for_previous_kernel();
  __syncthreads();
  for (int64_t i = threadIdx.x; i < assignments; i += kSortThreads) {
    const int32_t id = topk_ids[i];
    if (id >= 0 && id < experts) atomicAdd(&expert_rows[id], 1);
  }
  __syncthreads();
  ExpertTotals own{0, 0, 0};
  if (expert < experts) {
    own.rows = expert_rows[expert];
    own.tiles = (own.rows + rows_per_tile - 1) / rows_per_tile;
    own.active = own.rows > 0 ? 1 : 0;
  }
  const ExpertTotals before = block_exclusive_scan(own);
  if (expert < experts) {
    expert_offsets[expert] = before.rows;
    tile_offsets[expert] = before.tiles;
    if (own.active) active_experts[before.active] = expert;
    expert_rows[expert] = before.rows;  // only this thread reads or writes this expert's entry in this phase
  }
  if (expert == experts - 1) {
    expert_offsets[experts] = before.rows + own.rows;
    tile_offsets[experts] = before.tiles + own.tiles;
    active_experts[experts] = before.active + own.active;
  }
  __syncthreads();
  for (int64_t i = threadIdx.x; i < assignments; i += kSortThreads) {
    const int32_t id = topk_ids[i];
    int32_t position = -1;
    if (id >= 0 && id < experts) {
      position = atomicAdd(&expert_rows[id], 1);
      sorted_slots[position] = static_cast<int32_t>(i);
    }
    slot_positions[i] = position;
  }
}

// One thread per output column, kCombineThreads columns per CTA and one row of CTAs per token: a decode step
// (one token) still spreads over hidden / 256 CTAs instead of looping in one.
constexpr int kCombineThreads = 256;

template <typename Row, typename Out>
__global__ void __launch_bounds__(kCombineThreads)
    moe_combine_kernel(const Row* __restrict__ expert_rows, const int32_t* __restrict__ slot_positions,
                       const float* __restrict__ weights, int top_k, int64_t hidden, Out* __restrict__ output) {
  allow_next_kernel();
  wait_for_previous_kernel();
  const int64_t token = blockIdx.x;
  const int64_t column = static_cast<int64_t>(blockIdx.y) * kCombineThreads + threadIdx.x;
  if (column >= hidden) return;
  float sum = static_cast<float>(output[token * hidden + column]);
  for (int j = 0; j < top_k; ++j) {
    const int32_t position = slot_positions[token * top_k + j];
    if (position >= 0)
      sum += weights[token * top_k + j] * static_cast<float>(expert_rows[static_cast<int64_t>(position) * hidden + column]);
  }
  if constexpr (sizeof(Out) == 4) output[token * hidden + column] = sum;
  else output[token * hidden + column] = __float2bfloat16_rn(sum);
}

template <typename Row, typename Out>
void launch_combine(const void* expert_rows, const int32_t* slot_positions, const float* weights, int64_t tokens,
                    int top_k, int64_t hidden, void* output, cudaStream_t stream) {
  dim3 grid(static_cast<unsigned>(tokens), static_cast<unsigned>((hidden + kCombineThreads - 1) / kCombineThreads));
  launch_kernel("moe_combine_kernel", moe_combine_kernel<Row, Out>, grid, kCombineThreads, 0, stream,
                static_cast<const Row*>(expert_rows), slot_positions, weights, top_k, hidden, static_cast<Out*>(output));
}

}  // namespace

void moe_sort(const int32_t* topk_ids, int64_t assignments, int experts, int rows_per_tile, int32_t* expert_offsets,
              int32_t* tile_offsets, int32_t* active_experts, int32_t* sorted_slots, int32_t* slot_positions,
              cudaStream_t stream) {
  DSINFER_CHECK(experts > 0 && experts <= kMaxExperts, "MoE sort: ", experts, " experts (at most ", kMaxExperts, ")");
  launch_kernel("moe_sort_kernel", moe_sort_kernel, 1, kSortThreads, 0, stream, topk_ids, assignments, experts,
                rows_per_tile, expert_offsets, tile_offsets, active_experts, sorted_slots, slot_positions);
}

void moe_combine(const void* expert_rows, DType rows_dtype, const int32_t* slot_positions, const float* weights,
                 int64_t tokens, int top_k, int64_t hidden, void* output, DType output_dtype, cudaStream_t stream) {
  DSINFER_CHECK((rows_dtype == DType::kBF16 || rows_dtype == DType::kF32) &&
                    (output_dtype == DType::kBF16 || output_dtype == DType::kF32),
                "MoE combine: rows ", dtype_name(rows_dtype), " and output ", dtype_name(output_dtype),
                " must be BF16 or F32");
  DSINFER_CHECK(hidden <= 65535 * kCombineThreads, "MoE combine: hidden size ", hidden, " exceeds one launch");
  if (tokens == 0) return;
  const bool f32_rows = rows_dtype == DType::kF32, f32_output = output_dtype == DType::kF32;
  if (f32_rows && f32_output) {
    launch_combine<float, float>(expert_rows, slot_positions, weights, tokens, top_k, hidden, output, stream);
  } else if (f32_rows) {
    launch_combine<float, __nv_bfloat16>(expert_rows, slot_positions, weights, tokens, top_k, hidden, output, stream);
  } else if (f32_output) {
    launch_combine<__nv_bfloat16, float>(expert_rows, slot_positions, weights, tokens, top_k, hidden, output, stream);
  } else {
    launch_combine<__nv_bfloat16, __nv_bfloat16>(expert_rows, slot_positions, weights, tokens, top_k, hidden, output,
                                                 stream);
  }
}

}  // namespace dsinfer::cuda
