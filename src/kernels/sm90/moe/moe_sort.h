// Sorting a batch's (token, slot) assignments by expert for the grouped GEMMs, and the weighted combine
// back into token order. Everything stays on the device (no host sync), so it can run inside a CUDA graph.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.h"

namespace dsinfer::cuda {

// topk_ids [assignments] (= tokens * top_k, row-major) ->
//   expert_offsets [experts + 1]  rows of expert e in sorted order: [offsets[e], offsets[e+1])
//   tile_offsets   [experts + 1]  row tiles of rows_per_tile, likewise
//   active_experts [experts + 1]  the experts with at least one row, ascending, then their count at [experts]
//   sorted_slots   [assignments]  assignment index (t * top_k + j) of each sorted row
//   slot_positions [assignments]  sorted row of each assignment (-1 for an id outside [0, experts))
// Rows of one expert come in no particular order; results do not depend on it.
void moe_sort(const int32_t* topk_ids, int64_t assignments, int experts, int rows_per_tile, int32_t* expert_offsets,
              int32_t* tile_offsets, int32_t* active_experts, int32_t* sorted_slots, int32_t* slot_positions,
              cudaStream_t stream);

// output[t] += sum_j weights[t, j] * expert_rows[slot_positions[t * top_k + j]]   (float sums; rows and
// output BF16 or F32)
void moe_combine(const void* expert_rows, DType rows_dtype, const int32_t* slot_positions, const float* weights,
                 int64_t tokens, int top_k, int64_t hidden, void* output, DType output_dtype, cudaStream_t stream);

}  // namespace dsinfer::cuda
