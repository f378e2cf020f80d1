// Tile sizes of the absorbed MLA decode kernel (DeepSeek V2/V3: 512 latent + 64 rope values per token).
#pragma once

namespace dsinfer::cuda::mla_decode {

static constexpr int kLatentDim = 512;                 // kv_lora_rank: the latent is both K (with rope) and V
static constexpr int kRopeDim = 64;                    // qk_rope_head_dim
static constexpr int kHeadDim = kLatentDim + kRopeDim; // 576 values per cached token
static constexpr int kPageSize = 64;                   // tokens per KV page = tokens per tile
static constexpr int kThreads = 256;                   // 8 warps
static constexpr int kWarps = kThreads / 32;
static constexpr int kChunksPerRow = kHeadDim * 2 / 16;       // 72 16-byte chunks per 576-value BF16 row
static constexpr int kLatentChunks = kLatentDim * 2 / 16;     // 64
static constexpr int kRowBytes = kHeadDim * 2;                // 1152
static constexpr int kProbabilityRowBytes = (kPageSize + 8) * 2;  // 144: padded so ldmatrix rows hit all banks
static constexpr int kMaxSplits = 64;                  // split-KV parts per sequence (bounded by the workspace)

// Shared memory of one CTA: Q tile, two K tiles (double buffer), P tile and two per-row reduction arrays.
constexpr int shared_bytes(int heads_per_block) {
  int token_groups = kWarps / (heads_per_block / 16);
  return heads_per_block * kRowBytes + 2 * kPageSize * kRowBytes + heads_per_block * kProbabilityRowBytes +
         2 * token_groups * heads_per_block * 4;
}

}  // namespace dsinfer::cuda::mla_decode
