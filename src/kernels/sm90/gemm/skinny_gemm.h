// GEMMs for decode-sized row counts (up to 8 rows per weight) on the tensor cores with the weights as the
// 16-row operand, reading each weight byte once: block-scaled FP8,
//   out[r, n] = sum over 128-blocks kb of a_scale[kb][a_row] * w_scale[n / 128][kb] * (a_q[a_row, kb] . w_q[n, kb]),
// or BF16, out[r, n] = a[a_row] . weight[n]; output BF16 or F32. One launch can run
//   - one projection, or two projections of the same rows side by side (q_proj and kv_a_proj_with_mqa);
//   - a gated pair: out = silu(a . gate^T) * (a . up^T) (an MLP's first half, no intermediate tensors);
//   - either of those per routed expert: grouped by expert (moe_sort's order), each expert's rows against that
//     expert's weights, found through device tables of addresses; optionally with one dense set of the same
//     form beside the experts in the same launch (the MoE's shared experts, which need no routing);
//   - one projection per batch item (BF16): item y's rows against item y's weights, A, weights and output
//     advancing by strides (the absorbed MLA products, one item per attention head).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace dsinfer::cuda {

constexpr int64_t kSkinnyMaxRows = 8;  // the mma's n: rows per pass over the weights (more rows: more passes)

struct SkinnyProjection {
  const void* weight;                 // [n, k] e4m3 or BF16; grouped: expert 0's when the experts are stacked
  const float* scales;                // e4m3: [ceil(n / 128), scale_row_length]; grouped: likewise
  const void* const* weight_experts;  // grouped: expert e's weight at weight_experts[e] (device table)
  const float* const* scale_experts;  // grouped e4m3: expert e's scales
  // Grouped, experts stacked (> 0): expert e's weight at weight + e * expert_weight_bytes and its scales at
  // scales + e * expert_scale_bytes, computed rather than loaded from the tables.
  int64_t expert_weight_bytes, expert_scale_bytes;
  int64_t scale_row_length;           // floats per scale row (>= ceil(k / 128))
  int64_t n;
  void* out;                          // [rows, n]
  bool out_f32;                       // F32 output, else BF16
};

// The dense set of a grouped launch: rows [0, rows) of `a` (read directly, no slots) against its own weights
// (SkinnyProjection::weight / scales, not per expert), with its own k. Same projection count and gating as the
// launch. Its CTAs come first in the launch and, knowing their weights without the sort, prefetch them.
struct SkinnyDenseSet {
  const void* a;             // [rows, k] e4m3 or BF16
  const float* a_scales;     // e4m3: a_scales[kb * a_scales_stride + row]
  int64_t a_scales_stride;
  int64_t k;
  int64_t rows;              // 0: no dense set
  SkinnyProjection projections[2];
};

struct SkinnyGemmParams {
  const void* a;                // [a_rows, k] e4m3 or BF16
  const float* a_scales;        // e4m3: a_scales[kb * a_scales_stride + a_row]
  int64_t a_scales_stride;
  int64_t k;
  // Plain: rows [0, rows) of A, written to the same rows of the output (rows <= kSkinnyMaxRows).
  // Grouped (expert_offsets set): CTA row y takes expert active_experts[y] (if y < active_experts[experts]);
  // its sorted rows r in [expert_offsets[e], expert_offsets[e + 1]) read A row a_row_slots[r] / a_row_divisor
  // (or r when a_row_slots is null) and write output row r.
  int64_t rows;
  const int32_t* expert_offsets;  // [experts + 1]
  const int32_t* active_experts;  // [experts + 1]: experts with rows, in order, then their count
  int experts;
  const int32_t* a_row_slots;
  int a_row_divisor;
  SkinnyProjection projections[2];
  int projection_count;  // 1 or 2 (2 projections: their CTAs side by side; same k)
  bool gated;            // projections = (gate, up) with one n: out of projections[0] = silu(gate) * up
  // Batched (batch_count > 1; BF16, one projection, not grouped): CTA row y runs item y. Item y's A starts
  // y * a_batch_bytes past `a`, its weight y * weight_batch_bytes past the projection's, its output
  // y * out_batch_stride elements past `out`. Row strides of A (bytes) and of the output (elements) default to
  // packed rows when 0; they apply to every launch.
  int batch_count;
  int64_t a_batch_bytes, weight_batch_bytes, out_batch_stride;
  int64_t a_row_bytes;     // 0: k * element size (not applied to the dense set)
  int64_t out_row_stride;  // 0: n
  SkinnyDenseSet dense;    // grouped launches only
  // Programmatic dependent launch, grouped launches: trigger_after_wait lets the next launch start only once
  // every CTA of this one has waited for its predecessor (so once whatever wrote this launch's expert order has
  // completed); order_ready_before_wait, set on a launch that follows such a one with the same order, lets its
  // routed CTAs read the order and fetch their weights before their own wait.
  bool trigger_after_wait;
  bool order_ready_before_wait;
  // The dense set's A rows were final before this launch could start (the caller knows: ops::moe_experts'
  // input_is_final): its CTAs compute without waiting for the previous kernel (the routing) at all.
  bool dense_input_final;
};

// fp8: A and the weights are e4m3 (k a multiple of 16), else BF16 (k a multiple of 8).
void skinny_gemm(const SkinnyGemmParams& params, bool fp8, cudaStream_t stream);

}  // namespace dsinfer::cuda
