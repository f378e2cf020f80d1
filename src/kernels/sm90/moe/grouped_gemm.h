// Grouped GEMM for the routed experts: rows sorted by expert (moe_sort), each expert's rows times that
// expert's weight, all experts in one launch. The host never learns the per-expert row counts (they stay on
// the device), so the launch is sized by an upper bound and fits in a CUDA graph.
//   gated:     out[r, n] = silu(A[r] . W0_e[n]) * (A[r] . W1_e[n])    (gate_proj, up_proj; W0 = gate)
//   not gated: out[r, n] = A[r] . W0_e[n]                            (down_proj)
// BF16 weights with BF16 A, or e4m3 weights with e4m3 A and DeepSeek's block scales (W8A8): each 128-wide
// K block is accumulated on its own and added in with a_scale[row][block] * w_scale[n / 128][block].
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace dsinfer::cuda {

struct GroupedGemmParams {
  const void* a;                  // [a_rows, k] BF16 or e4m3
  const int32_t* a_row_slots;     // [rows]: A row of sorted row r is a_row_slots[r] / a_row_divisor; null: r
  int a_row_divisor;              // top_k when A is the unsorted token matrix
  const float* a_scales;          // e4m3 only: a_scales[block * a_scales_stride + a_row]
  int64_t a_scales_stride;
  // Expert e's weight [n, k]: weight0_experts[e] when the per-expert address table (device memory) is given,
  // else weight0 (one group). weight1: the up_proj of the gated form. Scales (e4m3 only): [ceil(n/128),
  // ceil(k/128)] per expert, likewise.
  const void* const* weight0_experts;
  const void* const* weight1_experts;
  const float* const* weight0_scale_experts;
  const float* const* weight1_scale_experts;
  const void* weight0;
  const float* weight0_scales;
  const int32_t* expert_offsets;  // [experts + 1]: sorted rows of expert e are [offsets[e], offsets[e+1]);
                                  // null: one group of all `rows` (a plain GEMM, experts = 1)
  const int32_t* tile_offsets;    // [experts + 1]: its row tiles of kGroupedRowsPerTile are [tiles[e], tiles[e+1])
  void* out;                      // [rows, n] BF16, or F32 when out_f32
  bool out_f32;                   // F32 output (the FP8 path quantizes the gated activation from float, as the
                                  // CPU twin does, instead of rounding it to BF16 first)
  int experts;
  int64_t rows;                   // total sorted rows (tokens * top_k)
  int64_t n, k;
};

constexpr int kGroupedRowsPerTile = 32;

// fp8: A and weights are e4m3 (with scales); else BF16. k * element size must be a multiple of 16 bytes.
void grouped_gemm(const GroupedGemmParams& params, bool fp8, bool gated, cudaStream_t stream);

// The FP8 form on the CUDA cores with float32 sums (grouped_gemm_f32.cu), for the F32-activation mode: the
// tensor cores' FP8 accumulator keeps about 13 mantissa bits, enough to move W8A8's e4m3 roundings
// downstream. Any n and k; slow (one thread per output element).
void grouped_gemm_fp8_f32(const GroupedGemmParams& params, bool gated, cudaStream_t stream);

}  // namespace dsinfer::cuda
