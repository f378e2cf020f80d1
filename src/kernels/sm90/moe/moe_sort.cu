#include "kernels/sm90/moe/moe_sort.h"

#include <cuda_bf16.h>

#include "core/error.h"
#include "kernels/common/cuda_check.h"

namespace dsinfer::cuda {

namespace {

constexpr int kSortThreads = 1024;
constexpr int kMaxExperts = 1024;

// One CTA: count per expert in shared memory, scan, then scatter with per-expert cursors.
__global__ void __launch_bounds__(kSortThreads)
    moe_sort_kernel(const int32_t* topk_ids, int64_t assignments, int experts, int rows_per_tile,
                    int32_t* expert_offsets, int32_t* tile_offsets, int32_t* sorted_slots, int32_t* slot_positions) {
  __shared__ int32_t counts[kMaxExperts];
  __shared__ int32_t cursors[kMaxExperts];
  for (int e = threadIdx.x; e < experts; e += kSortThreads) counts[e] = 0;
  __syncthreads();
  for (int64_t i = threadIdx.x; i < assignments; i += kSortThreads) {
    int32_t expert = topk_ids[i];
    if (expert >= 0 && expert < experts) atomicAdd(&counts[expert], 1);
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    int32_t rows = 0, tiles = 0;
    for (int e = 0; e < experts; ++e) {
      expert_offsets[e] = rows;
      tile_offsets[e] = tiles;
      cursors[e] = rows;
      rows += counts[e];
      tiles += (counts[e] + rows_per_tile - 1) / rows_per_tile;
    }
    expert_offsets[experts] = rows;
    tile_offsets[experts] = tiles;
  }
  __syncthreads();
  for (int64_t i = threadIdx.x; i < assignments; i += kSortThreads) {
    int32_t expert = topk_ids[i];
    int32_t position = -1;
    if (expert >= 0 && expert < experts) {
      position = atomicAdd(&cursors[expert], 1);
      sorted_slots[position] = static_cast<int32_t>(i);
    }
    slot_positions[i] = position;
  }
}

constexpr int kCombineThreads = 256;

__global__ void __launch_bounds__(kCombineThreads)
    moe_combine_kernel(const __nv_bfloat16* expert_rows, const int32_t* slot_positions, const float* weights, int top_k,
                       int64_t hidden, __nv_bfloat16* output) {
  const int64_t token = blockIdx.x;
  for (int64_t column = threadIdx.x; column < hidden; column += kCombineThreads) {
    float sum = __bfloat162float(output[token * hidden + column]);
    for (int j = 0; j < top_k; ++j) {
      int32_t position = slot_positions[token * top_k + j];
      if (position >= 0)
        sum += weights[token * top_k + j] * __bfloat162float(expert_rows[static_cast<int64_t>(position) * hidden + column]);
    }
    output[token * hidden + column] = __float2bfloat16_rn(sum);
  }
}

}  // namespace

void moe_sort(const int32_t* topk_ids, int64_t assignments, int experts, int rows_per_tile, int32_t* expert_offsets,
              int32_t* tile_offsets, int32_t* sorted_slots, int32_t* slot_positions, cudaStream_t stream) {
  DSINFER_CHECK(experts > 0 && experts <= kMaxExperts, "MoE sort: ", experts, " experts (at most ", kMaxExperts, ")");
  moe_sort_kernel<<<1, kSortThreads, 0, stream>>>(topk_ids, assignments, experts, rows_per_tile, expert_offsets,
                                                  tile_offsets, sorted_slots, slot_positions);
  DSINFER_CUDA_CHECK_LAUNCH("moe_sort_kernel");
}

void moe_combine(const void* expert_rows, const int32_t* slot_positions, const float* weights, int64_t tokens,
                 int top_k, int64_t hidden, void* output, cudaStream_t stream) {
  if (tokens == 0) return;
  moe_combine_kernel<<<static_cast<unsigned>(tokens), kCombineThreads, 0, stream>>>(
      static_cast<const __nv_bfloat16*>(expert_rows), slot_positions, weights, top_k, hidden,
      static_cast<__nv_bfloat16*>(output));
  DSINFER_CUDA_CHECK_LAUNCH("moe_combine_kernel");
}

}  // namespace dsinfer::cuda
