// Skinny GEMMs (see skinny_gemm.h) on the tensor cores with the operands swapped: out^T[n, t] = W[n, :] . X[t, :],
// so 16 weight rows fill the 16-row side of mma.sync (m16n8k32 e4m3 or m16n8k16 BF16: 32 bytes of K either
// way) and up to 8 rows of A the 8-column side. Since a dot product does not care in which order its k terms
// are summed, each lane reads 16 contiguous bytes of a weight row and of an A row and both operands use the same
// k-to-slot mapping.
// Memory: a decode step is bound by how many weight bytes are in flight. Each CTA streams its 16 weight rows
// (and its A rows) through shared memory in chunks of 1 KB per row with cp.async, kStages chunks in flight, so
// the bytes in flight are limited by shared memory, not registers. A plain launch issues its first kStages
// chunks of weights before it waits for the previous kernel (programmatic dependent launch): weights are not
// written during a step, so that memory latency overlaps the previous kernel. Within a chunk, warp w takes the
// 128-byte K block w (for FP8 exactly DeepSeek's scale block, promoted with a_scale * w_scale on the CUDA cores);
// the warps' partial sums meet in shared memory at the end.
// The 16 weight rows of a CTA are 16 output features (rows 0-7 and 8-15 of the mma), or, gated, 8 features of
// the gate projection (rows 0-7) and the same 8 of the up projection (rows 8-15), so the epilogue can form
// silu(gate) * up.
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
constexpr int kBlockBytes = 128;                        // one K scale block = two 64-byte k-steps per lane group
constexpr int kChunkBytes = kWarps * kBlockBytes;       // K bytes per row per pipeline stage: one block per warp
constexpr int kRowPitch = kChunkBytes + 64;             // shared row stride: rows g and g + 1 start 16 banks apart
constexpr int kStages = 4;                              // chunks in flight per CTA
constexpr int kSegmentsPerRow = kChunkBytes / 16;       // 16-byte cp.async segments per row and chunk

// Dynamic shared memory: per stage, 16 weight rows then up to 8 A rows, kRowPitch bytes each.
constexpr size_t stage_bytes(int a_rows) { return static_cast<size_t>(kWeightRows + a_rows) * kRowPitch; }
constexpr size_t shared_bytes(int a_rows) { return kStages * stage_bytes(a_rows); }

__device__ __forceinline__ void store(void* out, bool out_f32, int64_t offset, float value) {
  if (out_f32) static_cast<float*>(out)[offset] = value;
  else static_cast<__nv_bfloat16*>(out)[offset] = __float2bfloat16_rn(value);
}

// Registers capped for 4 CTAs per multiprocessor (64, no spills): shared memory then admits 2-3, and a
// following GEMM's CTAs can become resident (and start streaming their weights) while this one runs.
template <bool kFp8, bool kGated>
__global__ void __launch_bounds__(kWarps * 32, 4) skinny_gemm_kernel(const SkinnyGemmParams params, int a_rows) {
  constexpr int kFeatures = kGated ? kWeightRows / 2 : kWeightRows;  // output features per CTA
  extern __shared__ __align__(128) uint8_t stages[];                 // [kStages][16 + a_rows][kRowPitch]
  __shared__ float sums[kWarps][kWeightRows][kMaxTokens];            // each warp's partial sums
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, group = lane / 4, quad = lane % 4;
  allow_next_kernel();

  // This CTA's projection and features. (Fields are picked by value: indexing the parameter array with a
  // runtime index would copy it to local memory.)
  const SkinnyProjection& projection0 = params.projections[0];
  const SkinnyProjection& projection1 = params.projections[1];
  bool in_second = false;
  int64_t feature_block = blockIdx.x;
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
  const int64_t row_bytes = params.k * (kFp8 ? 1 : 2);
  const int64_t chunks = (row_bytes + kChunkBytes - 1) / kChunkBytes;
  const size_t stage_size = stage_bytes(a_rows);
  const bool grouped = params.expert_offsets != nullptr;
  // Batched launches: this CTA's item (A, weights and output offsets); row strides.
  const int64_t item = grouped ? 0 : blockIdx.y;
  const auto* a = static_cast<const uint8_t*>(params.a) + item * params.a_batch_bytes;
  const int64_t a_row_bytes = params.a_row_bytes > 0 ? params.a_row_bytes : row_bytes;
  const int64_t out_row_stride = params.out_row_stride > 0 ? params.out_row_stride : n;
  const int64_t out_offset = item * params.out_batch_stride;

  // Shared row r of stage s (r < 16: weight row r of the mma; 16 + t: A row of token t of the pass).
  auto shared_row = [&](int stage, int row) { return stages + stage * stage_size + row * kRowPitch; };
  // The weight row behind mma row r (rows 0-7 low, 8-15 high), or null past the projection's end.
  const uint8_t* weight_low = nullptr;
  const uint8_t* weight_high = nullptr;
  const float* scales_low = nullptr;  // FP8: the scale rows of this CTA's features (one 128-row block)
  const float* scales_high = nullptr;
  auto locate_weights = [&](int expert) {
    auto weight_of = [&](const SkinnyProjection& projection) {
      return grouped ? static_cast<const uint8_t*>(projection.weight_experts[expert])
                     : static_cast<const uint8_t*>(projection.weight) + item * params.weight_batch_bytes;
    };
    weight_low = (in_second ? weight_of(projection1) : weight_of(projection0)) + first_feature * row_bytes;
    weight_high = (high_second ? weight_of(projection1) : weight_of(projection0)) +
                  (kGated ? first_feature : first_feature + 8) * row_bytes;
    if constexpr (kFp8) {
      auto scales_of = [&](const SkinnyProjection& projection) {
        return (grouped ? projection.scale_experts[expert] : projection.scales) +
               (first_feature / 128) * projection.scale_row_length;
      };
      scales_low = in_second ? scales_of(projection1) : scales_of(projection0);
      scales_high = high_second ? scales_of(projection1) : scales_of(projection0);
    }
  };
  // Chunk c of the 16 weight rows into stage c % kStages; bytes past the row's end or the projection's last
  // feature are zero-filled.
  auto issue_weights = [&](int64_t chunk) {
    const int stage = static_cast<int>(chunk % kStages);
    for (int segment = threadIdx.x; segment < kWeightRows * kSegmentsPerRow; segment += kWarps * 32) {
      const int row = segment / kSegmentsPerRow;
      const int64_t offset = chunk * kChunkBytes + (segment % kSegmentsPerRow) * 16;
      const int64_t feature = first_feature + (kGated ? row % 8 : row);
      const uint8_t* base = row < 8 ? weight_low : weight_high;
      const bool valid = feature < n && offset < row_bytes;
      const uint8_t* source = valid ? base + (row % 8) * row_bytes + offset : weight_low;  // any valid address
      cp_async_16(shared_address(shared_row(stage, row) + (segment % kSegmentsPerRow) * 16), source, valid ? 16 : 0);
    }
  };
  // Chunk c of the pass's A rows (tokens [0, tokens)) into the same stage.
  auto issue_rows = [&](int64_t chunk, int64_t pass_begin, int tokens) {
    const int stage = static_cast<int>(chunk % kStages);
    for (int segment = threadIdx.x; segment < tokens * kSegmentsPerRow; segment += kWarps * 32) {
      const int token = segment / kSegmentsPerRow;
      const int64_t offset = chunk * kChunkBytes + (segment % kSegmentsPerRow) * 16;
      const int64_t row = pass_begin + token;
      const int64_t a_row = params.a_row_slots != nullptr ? params.a_row_slots[row] / params.a_row_divisor : row;
      const bool valid = offset < row_bytes;
      cp_async_16(shared_address(shared_row(stage, kWeightRows + token) + (segment % kSegmentsPerRow) * 16),
                  valid ? a + a_row * a_row_bytes + offset : a, valid ? 16 : 0);
    }
  };

  // A plain launch knows its weights now: their first stages go out before the wait.
  if (!grouped) {
    locate_weights(0);
    for (int64_t chunk = 0; chunk < kStages && chunk < chunks; ++chunk) issue_weights(chunk);
  }
  wait_for_previous_kernel();

  // This CTA's rows: all of them, or one routed expert's.
  int64_t row_begin = 0, row_end = params.rows;
  if (grouped) {
    if (static_cast<int>(blockIdx.y) >= params.active_experts[params.experts]) return;
    const int expert = params.active_experts[blockIdx.y];
    row_begin = params.expert_offsets[expert];
    row_end = params.expert_offsets[expert + 1];
    locate_weights(expert);
  }

  for (int64_t pass_begin = row_begin; pass_begin < row_end; pass_begin += kMaxTokens) {  // 8 rows per pass
    const int tokens = static_cast<int>(row_end - pass_begin < kMaxTokens ? row_end - pass_begin : kMaxTokens);
    // Prologue: kStages commit groups, group s holding chunk s's A rows (and, unless issued before the wait, its
    // weights). Every iteration below commits one more group (possibly empty), so "all but the newest
    // kStages - 1 groups complete" always means "chunk c has landed".
    const bool weights_issued = !grouped && pass_begin == row_begin;
    for (int64_t chunk = 0; chunk < kStages; ++chunk) {
      if (chunk < chunks) {
        if (!weights_issued) issue_weights(chunk);
        issue_rows(chunk, pass_begin, tokens);
      }
      cp_async_commit();
    }
    const bool token_valid = group < tokens;
    // FP8: the A rows of this lane's two accumulator columns (tokens 2 * quad and 2 * quad + 1).
    int64_t scale_rows[2] = {0, 0};
    bool scale_valid[2] = {false, false};
    if constexpr (kFp8) {
#pragma unroll
      for (int column = 0; column < 2; ++column) {
        const int64_t row = pass_begin + 2 * quad + column;
        scale_valid[column] = 2 * quad + column < tokens;
        if (scale_valid[column])
          scale_rows[column] = params.a_row_slots != nullptr ? params.a_row_slots[row] / params.a_row_divisor : row;
      }
    }

    // rows (features) low / high, columns (tokens) 2 * quad, 2 * quad + 1
    float accumulator[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      cp_async_wait<kStages - 1>();
      __syncthreads();  // every thread's copies of chunk `chunk` are visible
      const int stage = static_cast<int>(chunk % kStages);
      const int64_t block = chunk * kWarps + warp;  // this warp's 128-byte K block
      if (block * kBlockBytes < row_bytes) {
        const uint8_t* low = shared_row(stage, group) + warp * kBlockBytes + quad * 16;
        const uint8_t* high = shared_row(stage, group + 8) + warp * kBlockBytes + quad * 16;
        const uint8_t* token = shared_row(stage, kWeightRows + (token_valid ? group : 0)) + warp * kBlockBytes + quad * 16;
        float partial[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int step = 0; step < 2; ++step) {
          const uint4 w_low = *reinterpret_cast<const uint4*>(low + step * 64);
          const uint4 w_high = *reinterpret_cast<const uint4*>(high + step * 64);
          const uint4 x = token_valid ? *reinterpret_cast<const uint4*>(token + step * 64) : make_uint4(0, 0, 0, 0);
          // Two mmas (32 bytes of K each) per 16 bytes: slots (a0, a2) take bytes 0-7 then 8-15 of the low row's
          // vector, (a1, a3) the high row's, and (b0, b1) the token's, in the same order.
          const uint32_t first[4] = {w_low.x, w_high.x, w_low.y, w_high.y};
          const uint32_t second[4] = {w_low.z, w_high.z, w_low.w, w_high.w};
          if constexpr (kFp8) {
            mma_e4m3_16832(partial, first, x.x, x.y);
            mma_e4m3_16832(partial, second, x.z, x.w);
          } else {
            mma_bf16_16816(partial, first, x.x, x.y);
            mma_bf16_16816(partial, second, x.z, x.w);
          }
        }
        if constexpr (kFp8) {
          const float weight_scale[2] = {scales_low[block], scales_high[block]};
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            const int column = i & 1;
            const float a_scale =
                scale_valid[column] ? params.a_scales[block * params.a_scales_stride + scale_rows[column]] : 0.0f;
            accumulator[i] += partial[i] * (weight_scale[i / 2] * a_scale);
          }
        } else {
#pragma unroll
          for (int i = 0; i < 4; ++i) accumulator[i] += partial[i];
        }
      }
      __syncthreads();  // every warp is done with this stage before it is refilled
      if (chunk + kStages < chunks) {
        issue_weights(chunk + kStages);
        issue_rows(chunk + kStages, pass_begin, tokens);
      }
      cp_async_commit();
    }

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
      store(out, out_f32, out_offset + (pass_begin + token) * out_row_stride + column, total);
    }
    __syncthreads();  // the epilogue has read `sums` before a further pass writes it
  }
}

template <bool kFp8, bool kGated>
void launch(const SkinnyGemmParams& params, cudaStream_t stream) {
  constexpr int kFeatures = kGated ? kWeightRows / 2 : kWeightRows;
  int64_t feature_blocks = (params.projections[0].n + kFeatures - 1) / kFeatures;
  if (!kGated && params.projection_count == 2) feature_blocks += (params.projections[1].n + kFeatures - 1) / kFeatures;
  const int64_t expert_slots =
      params.expert_offsets != nullptr ? (params.rows < params.experts ? params.rows : params.experts) : 1;
  const int64_t grid_rows = params.batch_count > 1 ? params.batch_count : expert_slots;
  DSINFER_CHECK(feature_blocks < (int64_t{1} << 31) && grid_rows <= 65535, "skinny GEMM: ", feature_blocks,
                " feature blocks x ", grid_rows, " experts or batch items exceed one launch");
  // A rows per pass: all rows up to 8 (a grouped launch: up to 8 of one expert's).
  const int a_rows = static_cast<int>(params.rows < kMaxTokens ? params.rows : kMaxTokens);
  const size_t shared = shared_bytes(a_rows);
  static const bool configured = [] {  // once per kernel, before any graph capture (the first step is eager)
    check_cuda(cudaFuncSetAttribute(skinny_gemm_kernel<kFp8, kGated>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(shared_bytes(kMaxTokens))),
               "cudaFuncSetAttribute(skinny_gemm_kernel)", __FILE__, __LINE__);
    return true;
  }();
  (void)configured;
  dim3 grid(static_cast<unsigned>(feature_blocks), static_cast<unsigned>(grid_rows));
  launch_kernel("skinny_gemm_kernel", skinny_gemm_kernel<kFp8, kGated>, grid, kWarps * 32, shared, stream, params,
                a_rows);
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
  DSINFER_CHECK(params.a_row_bytes == 0 || (params.a_row_bytes % 16 == 0 && params.a_row_bytes >= params.k * (fp8 ? 1 : 2)),
                "skinny GEMM: A row stride of ", params.a_row_bytes, " bytes (16-byte aligned, at least one row)");
  DSINFER_CHECK(params.a_batch_bytes % 16 == 0 && params.weight_batch_bytes % 16 == 0, "skinny GEMM: batch strides of ",
                params.a_batch_bytes, " (A) and ", params.weight_batch_bytes, " (weights) bytes must be 16-byte aligned");
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
