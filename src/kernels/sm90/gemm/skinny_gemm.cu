// Skinny GEMMs (see skinny_gemm.h) on the tensor cores with the operands swapped: out^T[n, t] = W[n, :] . X[t, :],
// so 16 weight rows fill the 16-row side of mma.sync (m16n8k32 e4m3 or m16n8k16 BF16: 32 bytes of K either
// way) and up to 8 rows of A the 8-column side. Weights stream from global memory straight into A fragments:
// since a dot product does not care in which order its k terms are summed, each lane loads 16 contiguous bytes
// of a weight row and of an A row and both operands use the same k-to-slot mapping, so every load is a full
// 16-byte vector and a warp reads whole 64-byte runs of 8 rows. A CTA's 8 warps take interleaved 128-byte K
// blocks (for FP8 exactly DeepSeek's scale blocks, each promoted with a_scale * w_scale on the CUDA cores), two
// blocks in flight per warp, and add their partial sums in shared memory.
// Weights are not written during a step, so a CTA that knows its weights (plain, batched, a grouped launch's
// dense set) loads its first round of two blocks per warp into registers and copies the second round into
// shared memory (cp.async, each thread its own vectors) before it waits for the previous kernel (programmatic
// dependent launch): for K up to 4 KB per row the whole tile is on its way while the previous kernel runs. A
// routed CTA learns its expert from the sort and issues its first round right after; in a launch whose
// expert order is already final (the down projection after the gate/up launch, which lets it start only once
// every one of its CTAs has waited, so once the routing has completed) it does all of that before its wait.
// A dense set whose rows were final before the launch (the shared experts' gate/up right after the routing,
// whose kernels let successors start only after their own wait) does not wait at all: it finishes while the
// routing runs and leaves its SM slots to the routed CTAs. (What such a CTA reads before or without a wait was
// final before its launch started, so no SM's L1 holds an older copy of it.)
// The 16 weight rows of a CTA are 16 output features (rows 0-7 and 8-15 of the mma), or, gated, 8 features of
// the gate projection (rows 0-7) and the same 8 of the up projection (rows 8-15), so the epilogue can form
// silu(gate) * up.
// (Measured on the H200 against this design, V2-Lite batch-1 decode step: K split over clusters of 2 / 4 CTAs
// 3.51 / 5.62 ms vs 2.83 ms unsplit; weights through shared memory with cp.async 2.91 ms; persistent CTAs 3.47 ms;
// registers capped for 3 CTAs per SM on every form 3.09 ms (on the grouped form alone it gains, see launch());
// the second round also staged by routed CTAs: no gain. bench/RESULTS.md, round 3 and 4.)
#include "kernels/sm90/gemm/skinny_gemm.h"

#include <cuda_bf16.h>

#include "core/error.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/device_math.cuh"
#include "kernels/common/launch.cuh"
#include "kernels/common/mma_sm80.cuh"

namespace dsinfer::cuda {

namespace {

constexpr int kWarps = 8;
constexpr int kWeightRows = 16;  // the mma's m
constexpr int kMaxTokens = static_cast<int>(kSkinnyMaxRows);
constexpr int kBlockBytes = 128;  // one K scale block = two 64-byte k-steps per lane group
constexpr int kUnroll = 2;        // K blocks each warp loads before it multiplies

__device__ __forceinline__ uint4 load_or_zero(const uint8_t* pointer, bool valid) {
  return valid ? __ldg(reinterpret_cast<const uint4*>(pointer)) : make_uint4(0, 0, 0, 0);
}

__device__ __forceinline__ void store(void* out, bool out_f32, int64_t offset, float value) {
  if (out_f32) static_cast<float*>(out)[offset] = value;
  else static_cast<__nv_bfloat16*>(out)[offset] = __float2bfloat16_rn(value);
}

// CTAs (feature blocks) one set of projections takes: 16 features each, or 8 gated; a pair side by side.
template <bool kGated>
__host__ __device__ __forceinline__ int64_t feature_blocks_of(const SkinnyProjection* projections,
                                                              int projection_count) {
  constexpr int kFeatures = kGated ? kWeightRows / 2 : kWeightRows;
  int64_t blocks = (projections[0].n + kFeatures - 1) / kFeatures;
  if (!kGated && projection_count == 2) blocks += (projections[1].n + kFeatures - 1) / kFeatures;
  return blocks;
}

// kGrouped: a grouped launch (params.expert_offsets set), a template parameter so the plain and batched forms
// carry none of its CTA numbering in their registers. kOccupancy: the launch bound's CTAs per SM (0: none).
template <bool kFp8, bool kGated, bool kGrouped, int kOccupancy>
__global__ void __launch_bounds__(kWarps * 32, kOccupancy)
    skinny_gemm_kernel(const __grid_constant__ SkinnyGemmParams params) {
  constexpr int kFeatures = kGated ? kWeightRows / 2 : kWeightRows;  // output features per CTA
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, group = lane / 4, quad = lane % 4;
  if (!params.trigger_after_wait) allow_next_kernel();

  // This CTA's work. A grouped launch numbers its CTAs in x: the dense set's feature blocks first, then each
  // expert slot's; other launches take feature blocks in x and batch items in y.
  constexpr bool grouped = kGrouped;
  int64_t feature_block = blockIdx.x, slot = 0;
  bool dense = false;
  if constexpr (grouped) {
    const int64_t dense_blocks =
        params.dense.rows > 0 ? feature_blocks_of<kGated>(params.dense.projections, params.projection_count) : 0;
    if (feature_block < dense_blocks) {
      dense = true;
    } else {
      const int64_t slot_blocks = feature_blocks_of<kGated>(params.projections, params.projection_count);
      slot = (feature_block - dense_blocks) / slot_blocks;
      feature_block = (feature_block - dense_blocks) % slot_blocks;
    }
  }
  const bool routed = grouped && !dense;  // its expert comes from the sort, which earlier kernels write
  const SkinnyProjection* projections = dense ? params.dense.projections : params.projections;
  const SkinnyProjection& projection0 = projections[0];
  const SkinnyProjection& projection1 = projections[1];
  bool in_second = false;
  if (!kGated && params.projection_count == 2) {
    const int64_t first_blocks = (projection0.n + kFeatures - 1) / kFeatures;
    if (feature_block >= first_blocks) {
      in_second = true;
      feature_block -= first_blocks;
    }
  }
  const bool high_second = kGated || in_second;  // mma rows 8-15: the up projection when gated
  const int64_t n = in_second ? projection1.n : projection0.n, first_feature = feature_block * kFeatures;
  void* const out = in_second ? projection1.out : projection0.out;
  const bool out_f32 = in_second ? projection1.out_f32 : projection0.out_f32;
  // Batched launches: this CTA's item (A, weights and output offsets); row strides.
  const int64_t item = grouped ? 0 : blockIdx.y;
  const auto* a = static_cast<const uint8_t*>(dense ? params.dense.a : params.a) + item * params.a_batch_bytes;
  const float* const a_scales = dense ? params.dense.a_scales : params.a_scales;
  const int64_t a_scales_stride = dense ? params.dense.a_scales_stride : params.a_scales_stride;
  const int64_t out_row_stride = params.out_row_stride > 0 ? params.out_row_stride : n;
  const int64_t out_offset = item * params.out_batch_stride;

  // Lane (group, quad) loads 16 bytes at offset 16 * quad of each 64-byte k-step, from weight rows low_row
  // and high_row and from the A row of token slot `group`.
  const int64_t row_bytes = (dense ? params.dense.k : params.k) * (kFp8 ? 1 : 2);
  const int64_t a_row_bytes = params.a_row_bytes > 0 && !dense ? params.a_row_bytes : row_bytes;
  const int64_t blocks = (row_bytes + kBlockBytes - 1) / kBlockBytes;
  const int64_t low_row = first_feature + group, high_row = kGated ? low_row : low_row + 8;
  const bool low_valid = low_row < n, high_valid = high_row < n;
  const uint8_t* weight_low = nullptr;
  const uint8_t* weight_high = nullptr;
  const float* scales_low = nullptr;  // FP8: the scale rows of this CTA's features (one 128-row block)
  const float* scales_high = nullptr;
  auto locate_weights = [&](int expert) {
    auto weight_of = [&](const SkinnyProjection& projection) {
      if (!routed) return static_cast<const uint8_t*>(projection.weight) + item * params.weight_batch_bytes;
      return projection.expert_weight_bytes > 0
                 ? static_cast<const uint8_t*>(projection.weight) + expert * projection.expert_weight_bytes
                 : static_cast<const uint8_t*>(projection.weight_experts[expert]);
    };
    const uint8_t* low_base = in_second ? weight_of(projection1) : weight_of(projection0);
    const uint8_t* high_base = high_second ? weight_of(projection1) : weight_of(projection0);
    weight_low = low_base + (low_valid ? low_row : 0) * row_bytes;
    weight_high = high_base + (high_valid ? high_row : 0) * row_bytes;
    if constexpr (kFp8) {
      auto scales_of = [&](const SkinnyProjection& projection) {
        const float* expert_scales =
            !routed ? projection.scales
            : projection.expert_weight_bytes > 0
                ? reinterpret_cast<const float*>(reinterpret_cast<const uint8_t*>(projection.scales) +
                                                 expert * projection.expert_scale_bytes)
                : projection.scale_experts[expert];
        return expert_scales + (first_feature / 128) * projection.scale_row_length;
      };
      scales_low = in_second ? scales_of(projection1) : scales_of(projection0);
      scales_high = high_second ? scales_of(projection1) : scales_of(projection0);
    }
  };
  uint4 w_low[kUnroll][2], w_high[kUnroll][2];
  auto load_weights = [&](int64_t block) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
      for (int step = 0; step < 2; ++step) {
        const int64_t offset = (block + u * kWarps) * kBlockBytes + step * 64 + quad * 16;
        const bool in_range = offset < row_bytes;
        w_low[u][step] = load_or_zero(weight_low + offset, in_range && low_valid);
        w_high[u][step] = load_or_zero(weight_high + offset, in_range && high_valid);
      }
    }
  };
  // Weights are not written during a step: a CTA that knows its weights loads their first round into
  // registers and copies the second into shared memory (each thread its own vectors, so no barrier) before
  // waiting for the previous kernel. (A routed CTA learns its expert from the sort, which earlier kernels
  // write.)
  __shared__ uint4 staged[kUnroll * 2 * 2][kWarps * 32];  // [(u, step, low / high)][thread]: the second round
  auto staged_slot = [&](int u, int step, int high) -> uint4& {
    return staged[(u * 2 + step) * 2 + high][threadIdx.x];
  };
  const int64_t staged_block = warp + kUnroll * kWarps;  // this warp's second round
  bool second_round_staged = false;
  auto stage_second_round = [&] {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
      for (int step = 0; step < 2; ++step) {
        const int64_t offset = (staged_block + u * kWarps) * kBlockBytes + step * 64 + quad * 16;
        const bool in_range = offset < row_bytes;
        const bool low = in_range && low_valid, high = in_range && high_valid;  // else zero-filled
        cp_async_16(shared_address(&staged_slot(u, step, 0)), weight_low + (low ? offset : 0), low ? 16 : 0);
        cp_async_16(shared_address(&staged_slot(u, step, 1)), weight_high + (high ? offset : 0), high ? 16 : 0);
      }
    }
    cp_async_commit();
    second_round_staged = true;
  };
  // This CTA's rows: all of them, the dense set's, or one routed expert's.
  int64_t row_begin = 0, row_end = dense ? params.dense.rows : params.rows;
  auto take_routed_expert = [&]() -> bool {  // false: no expert in this slot
    if (slot >= params.active_experts[params.experts]) return false;
    const int expert = params.active_experts[slot];
    locate_weights(expert);
    load_weights(warp);  // first, so the row lookups below overlap it (an active expert has rows)
    row_begin = params.expert_offsets[expert];
    row_end = params.expert_offsets[expert + 1];
    return true;
  };
  if (!routed) {
    locate_weights(0);
    load_weights(warp);
    stage_second_round();
  } else if (params.order_ready_before_wait) {  // the order is final: fetch the expert's weights now too
    if (!take_routed_expert()) return;
    stage_second_round();
  }
  if (!(dense && params.dense_input_final)) wait_for_previous_kernel();
  if (params.trigger_after_wait) allow_next_kernel();

  if (routed && !params.order_ready_before_wait && !take_routed_expert()) return;
  __shared__ float sums[kWarps][kWeightRows][kMaxTokens];  // each warp's partial sums
  bool weights_loaded = true;

  for (int64_t chunk = row_begin; chunk < row_end; chunk += kMaxTokens) {  // 8 rows per pass over the weights
    const int tokens = static_cast<int>(row_end - chunk < kMaxTokens ? row_end - chunk : kMaxTokens);
    auto a_row_of = [&](int token) -> int64_t {
      const int64_t row = chunk + token;
      return routed && params.a_row_slots != nullptr ? params.a_row_slots[row] / params.a_row_divisor : row;
    };
    const bool token_valid = group < tokens;
    const uint8_t* token_row = a + (token_valid ? a_row_of(group) : 0) * a_row_bytes;
    // FP8: the A rows of this lane's two accumulator columns (tokens 2 * quad and 2 * quad + 1).
    int64_t scale_rows[2] = {0, 0};
    bool scale_valid[2] = {false, false};
    if constexpr (kFp8) {
#pragma unroll
      for (int column = 0; column < 2; ++column) {
        scale_valid[column] = 2 * quad + column < tokens;
        if (scale_valid[column]) scale_rows[column] = a_row_of(2 * quad + column);
      }
    }

    // rows (features) low / high, columns (tokens) 2 * quad, 2 * quad + 1
    float accumulator[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t block = warp; block < blocks; block += kUnroll * kWarps) {
      if (second_round_staged && block == staged_block) {  // (a later pass over more rows reloads)
        cp_async_wait<0>();
        asm volatile("" ::: "memory");
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
          for (int step = 0; step < 2; ++step) {
            w_low[u][step] = staged_slot(u, step, 0);
            w_high[u][step] = staged_slot(u, step, 1);
          }
        }
        second_round_staged = false;
      } else if (!weights_loaded) {
        load_weights(block);
      }
      weights_loaded = false;
      uint4 x[kUnroll][2];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
        for (int step = 0; step < 2; ++step) {
          const int64_t offset = (block + u * kWarps) * kBlockBytes + step * 64 + quad * 16;
          x[u][step] = load_or_zero(token_row + offset, offset < row_bytes && token_valid);
        }
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t current = block + u * kWarps;
        float partial[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int step = 0; step < 2; ++step) {
          // Two mmas (32 bytes of K each) per 16 loaded bytes: slots (a0, a2) take bytes 0-7 then 8-15 of the
          // low row's vector, (a1, a3) the high row's, and (b0, b1) the token's, in the same order.
          const uint32_t first[4] = {w_low[u][step].x, w_high[u][step].x, w_low[u][step].y, w_high[u][step].y};
          const uint32_t second[4] = {w_low[u][step].z, w_high[u][step].z, w_low[u][step].w, w_high[u][step].w};
          if constexpr (kFp8) {
            mma_e4m3_16832(partial, first, x[u][step].x, x[u][step].y);
            mma_e4m3_16832(partial, second, x[u][step].z, x[u][step].w);
          } else {
            mma_bf16_16816(partial, first, x[u][step].x, x[u][step].y);
            mma_bf16_16816(partial, second, x[u][step].z, x[u][step].w);
          }
        }
        if constexpr (kFp8) {
          if (current < blocks) {
            const float weight_scale[2] = {scales_low[current], scales_high[current]};
#pragma unroll
            for (int i = 0; i < 4; ++i) {
              const int column = i & 1;
              const float a_scale =
                  scale_valid[column] ? a_scales[current * a_scales_stride + scale_rows[column]] : 0.0f;
              accumulator[i] += partial[i] * (weight_scale[i / 2] * a_scale);
            }
          }
        } else {
#pragma unroll
          for (int i = 0; i < 4; ++i) accumulator[i] += partial[i];
        }
      }
    }
    weights_loaded = false;  // a further pass (more than 8 rows) loads the weights again

    __syncthreads();  // the previous pass's epilogue has read `sums`
#pragma unroll
    for (int i = 0; i < 4; ++i) sums[warp][group + 8 * (i / 2)][2 * quad + (i & 1)] = accumulator[i];
    __syncthreads();
    for (int index = threadIdx.x; index < kFeatures * kMaxTokens; index += kWarps * 32) {
      const int feature = index / kMaxTokens, token = index % kMaxTokens;
      const int64_t column = first_feature + feature;
      if (token >= tokens || column >= n) continue;
      float total = 0.0f;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) total += sums[w][feature][token];
      if constexpr (kGated) {
        float up = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) up += sums[w][feature + 8][token];
        total = total / (1.0f + __expf(-total)) * up;
      }
      store(out, out_f32, out_offset + (chunk + token) * out_row_stride + column, total);
    }
  }
  if (second_round_staged) cp_async_wait<0>();  // a warp with no second round: nothing left in flight at exit
}

template <bool kFp8, bool kGated>
void launch(const SkinnyGemmParams& params, cudaStream_t stream) {
  const bool grouped = params.expert_offsets != nullptr;
  const int64_t feature_blocks = feature_blocks_of<kGated>(params.projections, params.projection_count);
  int64_t blocks_x = feature_blocks, grid_rows = params.batch_count > 1 ? params.batch_count : 1;
  if (grouped) {  // expert slots side by side in x, after the dense set's blocks
    const int64_t slots = params.rows < params.experts ? params.rows : params.experts;
    blocks_x = slots * feature_blocks;
    if (params.dense.rows > 0) blocks_x += feature_blocks_of<kGated>(params.dense.projections, params.projection_count);
  }
  DSINFER_CHECK(blocks_x < (int64_t{1} << 31) && grid_rows <= 65535, "skinny GEMM: ", blocks_x, " CTAs x ", grid_rows,
                " batch items exceed one launch");
  dim3 grid(static_cast<unsigned>(blocks_x), static_cast<unsigned>(grid_rows));
  // Grouped launches: registers capped for three CTAs per SM (measured on the H200, V2-Lite decode: 2.39 vs 2.46
  // ms per step at batch 1, 5.74 vs 6.64 at batch 8 with two); the plain and batched forms as the compiler
  // likes them (a cap for three measured no better at batch 1).
  if (grouped) {
    launch_kernel("skinny_gemm_kernel (grouped)", skinny_gemm_kernel<kFp8, kGated, true, 3>, grid, kWarps * 32, 0,
                  stream, params);
  } else {
    launch_kernel(params.batch_count > 1 ? "skinny_gemm_kernel (batched)" : "skinny_gemm_kernel (plain)",
                  skinny_gemm_kernel<kFp8, kGated, false, 0>, grid, kWarps * 32, 0, stream, params);
  }
}

}  // namespace

void skinny_gemm(const SkinnyGemmParams& params, bool fp8, cudaStream_t stream) {
  DSINFER_CHECK(params.k > 0 && params.k % (fp8 ? 16 : 8) == 0, "skinny GEMM: k=", params.k,
                " must be a positive multiple of ", fp8 ? 16 : 8, " (16-byte rows)");
  DSINFER_CHECK(params.projection_count == 1 || params.projection_count == 2, "skinny GEMM: ",
                params.projection_count, " projections (1 or 2)");
  DSINFER_CHECK(!params.gated || (params.projection_count == 2 && params.projections[0].n == params.projections[1].n),
                "skinny GEMM: the gated form needs two projections (gate, up) of one width");
  const bool grouped = params.expert_offsets != nullptr;
  DSINFER_CHECK(!grouped || (params.active_experts != nullptr && params.experts > 0), "skinny GEMM: grouped rows need ",
                "the active expert list");
  DSINFER_CHECK(grouped || params.rows <= kSkinnyMaxRows, "skinny GEMM: ", params.rows, " rows (at most ",
                kSkinnyMaxRows, " without experts)");
  for (int p = 0; p < params.projection_count; ++p) {
    const SkinnyProjection& projection = params.projections[p];
    DSINFER_CHECK(projection.n > 0 && projection.out != nullptr &&
                      (grouped ? projection.weight_experts != nullptr : projection.weight != nullptr),
                  "skinny GEMM: projection ", p, " lacks its width, output or weights");
    DSINFER_CHECK(!fp8 || (grouped ? projection.scale_experts != nullptr : projection.scales != nullptr),
                  "skinny GEMM: FP8 projection ", p, " lacks its block scales");
    DSINFER_CHECK(!fp8 || projection.scale_row_length >= (params.k + 127) / 128, "skinny GEMM: FP8 scale rows of ",
                  projection.scale_row_length, " floats are shorter than k / 128 = ", (params.k + 127) / 128);
  }
  DSINFER_CHECK(!fp8 || params.a_scales != nullptr, "skinny GEMM: FP8 needs the activation scales");
  DSINFER_CHECK(params.batch_count <= 1 || (!fp8 && !grouped && !params.gated && params.projection_count == 1),
                "skinny GEMM: a batched launch takes one BF16 projection (", params.batch_count, " items)");
  if (params.dense.rows > 0) {
    const SkinnyDenseSet& dense = params.dense;
    DSINFER_CHECK(grouped && dense.a != nullptr && dense.k > 0 && dense.k % (fp8 ? 16 : 8) == 0 &&
                      dense.rows <= kSkinnyMaxRows,
                  "skinny GEMM: a dense set runs beside experts only, with A, k a positive multiple of ",
                  fp8 ? 16 : 8, " (k=", dense.k, ") and at most ", kSkinnyMaxRows, " rows (", dense.rows,
                  ")");
    DSINFER_CHECK(!fp8 || dense.a_scales != nullptr,
                  "skinny GEMM: the FP8 dense set needs its activation scales");
    DSINFER_CHECK(!params.gated || dense.projections[0].n == dense.projections[1].n,
                  "skinny GEMM: the gated dense set needs gate and up of one width");
    for (int p = 0; p < params.projection_count; ++p) {
      const SkinnyProjection& projection = dense.projections[p];
      DSINFER_CHECK(projection.n > 0 && projection.out != nullptr && projection.weight != nullptr &&
                        (!fp8 || (projection.scales != nullptr &&
                                  projection.scale_row_length >= (dense.k + 127) / 128)),
                    "skinny GEMM: dense projection ", p, " lacks its width, output, weights or block scales");
    }
  }
  DSINFER_CHECK(params.a_row_bytes == 0 ||
                    (params.a_row_bytes % 16 == 0 && params.a_row_bytes >= params.k * (fp8 ? 1 : 2)),
                "skinny GEMM: A row stride of ", params.a_row_bytes,
                " bytes (16-byte aligned, at least one row)");
  DSINFER_CHECK(params.a_batch_bytes % 16 == 0 && params.weight_batch_bytes % 16 == 0,
                "skinny GEMM: batch strides of ", params.a_batch_bytes, " (A) and ",
                params.weight_batch_bytes, " (weights) bytes must be 16-byte aligned");
  if (params.rows == 0) return;
  if (fp8) {
    if (params.gated) launch<true, true>(params, stream);
    else launch<true, false>(params, stream);
  } else {
    if (params.gated) launch<false, true>(params, stream);
    else launch<false, false>(params, stream);
  }
}

}  // namespace dsinfer::cuda
