// The tiled absorbed-MLA decode kernel: one CTA per (head block, split, sequence) streams its part of the
// sequence's paged latent cache, one 64-token page per tile, through shared memory (cp.async, double
// buffered) and runs both products on the tensor cores (mma.sync m16n8k16, BF16 in, FP32 accumulate):
//
//   S = Q K^T   [heads, 64]  = [heads, 576] x [576, 64]   8 warps: 16-row groups x token groups
//   online softmax over the split (base 2), P rounded to BF16 in shared memory
//   O += P V    [heads, 512] = [heads, 64] x [64, 512]    8 warps: 16-row groups x column groups
//
// V is the first 512 values of each cached K row, so one tile load feeds both products. A warp keeps the
// same 16 query rows in both phases, which lets it hold the running row max, the rescale factor and its
// share of the row sum in registers; only the per-tile row max crosses warps (through shared memory).
// Rows of Q and K live in shared memory as 72 16-byte chunks, chunk c of row r stored at c ^ (r % 8),
// so every ldmatrix and cp.async touches all 32 banks once.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/common/device_math.cuh"
#include "kernels/common/launch.cuh"
#include "kernels/common/mma_sm80.cuh"
#include "kernels/sm90/mla_decode/config.h"
#include "kernels/sm90/mla_decode/params.h"

namespace dsinfer::cuda::mla_decode {

__device__ __forceinline__ uint32_t swizzled_offset(int row, int chunk) {
  return static_cast<uint32_t>(row * kRowBytes + ((chunk ^ (row & 7)) << 4));
}

template <int kHeadsPerBlock>
__global__ void __launch_bounds__(kThreads, 1) mla_decode_tiled_kernel(const MlaDecodeParams params) {
  static_assert(kHeadsPerBlock == 16 || kHeadsPerBlock == 32 || kHeadsPerBlock == 64, "16, 32 or 64 heads per CTA");
  constexpr int kRowGroups = kHeadsPerBlock / 16;
  constexpr int kTokenGroups = kWarps / kRowGroups;           // phase 1: warps sharing a row group
  constexpr int kTokensPerWarp = kPageSize / kTokenGroups;    // 8, 16 or 32
  constexpr int kScoreTiles = kTokensPerWarp / 8;             // 8-token n-tiles of S per warp
  constexpr int kColumnsPerWarp = kLatentDim / kTokenGroups;  // phase 3: 64, 128 or 256 output columns
  constexpr int kOutputTiles = kColumnsPerWarp / 8;           // 8-column n-tiles of O per warp

  extern __shared__ __align__(128) uint8_t shared[];
  uint8_t* shared_q = shared;
  uint8_t* shared_k = shared_q + kHeadsPerBlock * kRowBytes;  // two buffers of kPageSize rows
  uint8_t* shared_p = shared_k + 2 * kPageSize * kRowBytes;   // [kHeadsPerBlock][kPageSize + 8] BF16
  float* row_max_parts = reinterpret_cast<float*>(shared_p + kHeadsPerBlock * kProbabilityRowBytes);
  float* row_sum_parts = row_max_parts + kTokenGroups * kHeadsPerBlock;  // [kTokenGroups][kHeadsPerBlock]

  allow_next_kernel();
  wait_for_previous_kernel();
  const int head_block = blockIdx.x, split = blockIdx.y, sequence = blockIdx.z;
  const int thread = threadIdx.x, warp = thread / 32, lane = thread % 32;
  const int row_group = warp % kRowGroups, token_group = warp / kRowGroups;
  const int first_head = head_block * kHeadsPerBlock;

  const int seq_len = params.seq_lens[sequence];
  const MlaSplit range = mla_split_range(seq_len, kPageSize, params.num_splits, split);
  if (split >= range.active_splits) return;
  const int32_t* pages = params.page_table + static_cast<int64_t>(sequence) * params.page_table_stride;

  const auto* q_latent = static_cast<const __nv_bfloat16*>(params.q_latent);
  const auto* q_rope = static_cast<const __nv_bfloat16*>(params.q_rope);
  // Q: rows are heads; latent chunks 0..63 from q_latent, rope chunks 64..71 from q_rope; missing heads zero.
  for (int index = thread; index < kHeadsPerBlock * kChunksPerRow; index += kThreads) {
    int row = index / kChunksPerRow, chunk = index % kChunksPerRow;
    int head = first_head + row;
    bool valid = head < params.num_heads;
    int clamped_head = valid ? head : 0;
    const __nv_bfloat16* source =
        chunk < kLatentChunks
            ? q_latent + sequence * params.q_latent_batch_stride + clamped_head * params.q_latent_head_stride + chunk * 8
            : q_rope + sequence * params.q_rope_batch_stride + clamped_head * params.q_rope_head_stride +
                  (chunk - kLatentChunks) * 8;
    cp_async_16(shared_address(shared_q + swizzled_offset(row, chunk)), source, valid ? 16 : 0);
  }
  // One page of K into a buffer; rows past the sequence end are zero-filled (their scores are masked, and
  // zero V rows keep stale cache bytes, possibly NaN patterns, out of P V).
  auto load_page = [&](int page_index, int buffer) {
    const __nv_bfloat16* page =
        static_cast<const __nv_bfloat16*>(params.kv_cache) + static_cast<int64_t>(pages[page_index]) * kPageSize * kHeadDim;
    uint8_t* destination = shared_k + buffer * kPageSize * kRowBytes;
    int tokens_in_page = seq_len - page_index * kPageSize;
#pragma unroll 6
    for (int index = thread; index < kPageSize * kChunksPerRow; index += kThreads) {
      int row = index / kChunksPerRow, chunk = index % kChunksPerRow;
      bool valid = row < tokens_in_page;
      const __nv_bfloat16* source = page + (valid ? row : 0) * kHeadDim + chunk * 8;
      cp_async_16(shared_address(destination + swizzled_offset(row, chunk)), source, valid ? 16 : 0);
    }
  };

  const float scale_log2 = params.softmax_scale * kLog2e;
  float running_max[2] = {-INFINITY, -INFINITY};  // rows lane/4 and lane/4 + 8 of this warp's row group
  float running_sum[2] = {0.0f, 0.0f};            // this thread's share of the row sums
  float output[kOutputTiles][4];
#pragma unroll
  for (int tile = 0; tile < kOutputTiles; ++tile)
#pragma unroll
    for (int i = 0; i < 4; ++i) output[tile][i] = 0.0f;

  const int warp_row = row_group * 16;  // first Q row of this warp
  const int quad_row = lane / 4, quad_column = 2 * (lane % 4);

  if (range.begin_page < range.end_page) {
    load_page(range.begin_page, 0);
  }
  cp_async_commit();

  for (int page_index = range.begin_page; page_index < range.end_page; ++page_index) {
    const int buffer = (page_index - range.begin_page) & 1;
    cp_async_wait<0>();
    __syncthreads();  // this page (and Q) landed; every warp is done with the other buffer and with P
    if (page_index + 1 < range.end_page) load_page(page_index + 1, buffer ^ 1);
    cp_async_commit();

    const uint8_t* page_k = shared_k + buffer * kPageSize * kRowBytes;

    // Phase 1: S = Q K^T for this warp's 16 rows x kTokensPerWarp tokens.
    float scores[kScoreTiles][4];
#pragma unroll
    for (int tile = 0; tile < kScoreTiles; ++tile)
#pragma unroll
      for (int i = 0; i < 4; ++i) scores[tile][i] = 0.0f;
#pragma unroll 2
    for (int k_step = 0; k_step < kHeadDim / 16; k_step += 2) {
      uint32_t a_first[4], a_second[4];
      int q_row = warp_row + (lane % 16);
      ldmatrix_x4(a_first, shared_address(shared_q + swizzled_offset(q_row, 2 * k_step + lane / 16)));
      ldmatrix_x4(a_second, shared_address(shared_q + swizzled_offset(q_row, 2 * k_step + 2 + lane / 16)));
#pragma unroll
      for (int tile = 0; tile < kScoreTiles; ++tile) {
        uint32_t b[4];
        int k_row = token_group * kTokensPerWarp + tile * 8 + (lane % 8);
        ldmatrix_x4(b, shared_address(page_k + swizzled_offset(k_row, 2 * k_step + lane / 8)));
        mma_bf16_16816(scores[tile], a_first, b[0], b[1]);
        mma_bf16_16816(scores[tile], a_second, b[2], b[3]);
      }
    }

    // Scale into the base-2 domain, mask tokens past the end, and publish this warp's row maxima.
    const int tokens_in_page = seq_len - page_index * kPageSize;
    float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int tile = 0; tile < kScoreTiles; ++tile) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        int token = token_group * kTokensPerWarp + tile * 8 + quad_column + (i & 1);
        scores[tile][i] = token < tokens_in_page ? scores[tile][i] * scale_log2 : -INFINITY;
        tile_max[i / 2] = fmaxf(tile_max[i / 2], scores[tile][i]);
      }
    }
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      tile_max[half] = fmaxf(tile_max[half], __shfl_xor_sync(0xffffffffu, tile_max[half], 1));
      tile_max[half] = fmaxf(tile_max[half], __shfl_xor_sync(0xffffffffu, tile_max[half], 2));
    }
    if (lane % 4 == 0) {
      row_max_parts[token_group * kHeadsPerBlock + warp_row + quad_row] = tile_max[0];
      row_max_parts[token_group * kHeadsPerBlock + warp_row + quad_row + 8] = tile_max[1];
    }
    __syncthreads();

    // Online softmax: every warp of a row group derives the same new maximum from the published parts.
    float rescale[2];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      int row = warp_row + quad_row + 8 * half;
      float new_max = running_max[half];
#pragma unroll
      for (int group = 0; group < kTokenGroups; ++group)
        new_max = fmaxf(new_max, row_max_parts[group * kHeadsPerBlock + row]);
      rescale[half] = exp2f(running_max[half] - new_max);
      running_max[half] = new_max;
      running_sum[half] *= rescale[half];
    }
#pragma unroll
    for (int tile = 0; tile < kScoreTiles; ++tile) {
      float p0 = exp2f(scores[tile][0] - running_max[0]), p1 = exp2f(scores[tile][1] - running_max[0]);
      float p2 = exp2f(scores[tile][2] - running_max[1]), p3 = exp2f(scores[tile][3] - running_max[1]);
      running_sum[0] += p0 + p1;
      running_sum[1] += p2 + p3;
      int column = token_group * kTokensPerWarp + tile * 8 + quad_column;
      *reinterpret_cast<uint32_t*>(shared_p + (warp_row + quad_row) * kProbabilityRowBytes + column * 2) =
          pack_bf16x2(p0, p1);
      *reinterpret_cast<uint32_t*>(shared_p + (warp_row + quad_row + 8) * kProbabilityRowBytes + column * 2) =
          pack_bf16x2(p2, p3);
    }
    __syncthreads();

    // Phase 3: O = O * rescale + P V for this warp's 16 rows x kColumnsPerWarp columns.
#pragma unroll
    for (int tile = 0; tile < kOutputTiles; ++tile) {
      output[tile][0] *= rescale[0];
      output[tile][1] *= rescale[0];
      output[tile][2] *= rescale[1];
      output[tile][3] *= rescale[1];
    }
    const int first_column_chunk = token_group * kColumnsPerWarp / 8;
#pragma unroll
    for (int k_step = 0; k_step < kPageSize / 16; ++k_step) {
      uint32_t a[4];
      ldmatrix_x4(a, shared_address(shared_p + (warp_row + (lane % 16)) * kProbabilityRowBytes +
                                    (2 * k_step + lane / 16) * 16));
      int v_row = k_step * 16 + (lane % 8) + ((lane / 8) % 2) * 8;
#pragma unroll
      for (int pair = 0; pair < kOutputTiles / 2; ++pair) {
        uint32_t b[4];
        ldmatrix_x4_transposed(
            b, shared_address(page_k + swizzled_offset(v_row, first_column_chunk + 2 * pair + lane / 16)));
        mma_bf16_16816(output[2 * pair], a, b[0], b[1]);
        mma_bf16_16816(output[2 * pair + 1], a, b[2], b[3]);
      }
    }
  }

  cp_async_wait<0>();  // nothing may be in flight into shared memory at exit (an empty sequence loads only Q)

  // Row sums: reduce over the quad, then over the warps that share the row group.
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    running_sum[half] += __shfl_xor_sync(0xffffffffu, running_sum[half], 1);
    running_sum[half] += __shfl_xor_sync(0xffffffffu, running_sum[half], 2);
  }
  if (lane % 4 == 0) {
    row_sum_parts[token_group * kHeadsPerBlock + warp_row + quad_row] = running_sum[0];
    row_sum_parts[token_group * kHeadsPerBlock + warp_row + quad_row + 8] = running_sum[1];
  }
  __syncthreads();
  float inverse_sum[2], log_sum[2];
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    float total = 0.0f;
#pragma unroll
    for (int group = 0; group < kTokenGroups; ++group)
      total += row_sum_parts[group * kHeadsPerBlock + warp_row + quad_row + 8 * half];
    inverse_sum[half] = total > 0.0f ? 1.0f / total : 0.0f;
    log_sum[half] = running_max[half] + log2f(total);
  }

  const int first_column = token_group * kColumnsPerWarp;
  const bool direct = range.active_splits == 1;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    int head = first_head + warp_row + quad_row + 8 * half;
    if (head >= params.num_heads) continue;
    if (direct) {
      __nv_bfloat16* row =
          static_cast<__nv_bfloat16*>(params.out) + (static_cast<int64_t>(sequence) * params.num_heads + head) * kLatentDim;
#pragma unroll
      for (int tile = 0; tile < kOutputTiles; ++tile) {
        *reinterpret_cast<uint32_t*>(row + first_column + tile * 8 + quad_column) =
            pack_bf16x2(output[tile][2 * half] * inverse_sum[half], output[tile][2 * half + 1] * inverse_sum[half]);
      }
    } else {
      int64_t part = (static_cast<int64_t>(sequence) * params.num_splits + split) * params.num_heads + head;
      float* row = params.partial_out + part * kLatentDim;
#pragma unroll
      for (int tile = 0; tile < kOutputTiles; ++tile) {
        *reinterpret_cast<float2*>(row + first_column + tile * 8 + quad_column) =
            make_float2(output[tile][2 * half] * inverse_sum[half], output[tile][2 * half + 1] * inverse_sum[half]);
      }
      if (token_group == 0 && lane % 4 == 0) params.partial_lse[part] = log_sum[half];
    }
  }
}

}  // namespace dsinfer::cuda::mla_decode
