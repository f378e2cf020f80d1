// Parameters of the absorbed MLA decode (one query token per sequence, s_q = 1) over a paged latent cache,
// shared by the tiled kernel (576 = 512 + 64, page 64, BF16), the generic kernel (any sizes, BF16 or F32)
// and the combine.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

namespace dsinfer::cuda {

struct MlaDecodeParams {
  const void* q_latent;           // [batch, num_heads, latent_dim]: q_nope folded through W_UK
  const void* q_rope;             // [batch, num_heads, rope_dim]: rotated q_pe
  int64_t q_latent_batch_stride;  // elements between consecutive sequences' rows
  int64_t q_latent_head_stride;   // elements between consecutive heads (>= latent_dim)
  int64_t q_rope_batch_stride;
  int64_t q_rope_head_stride;
  const void* kv_cache;           // one layer: [num_pages, page_size, latent_dim + rope_dim]
  const int32_t* page_table;      // [batch, page_table_stride]: page ids in position order
  int page_table_stride;
  const int32_t* seq_lens;        // [batch]: tokens in the cache, the current one included
  void* out;                      // [batch, num_heads, latent_dim] (contiguous): softmax(q k^T) v in latent space
  bool f32;                       // q_latent, q_rope, kv_cache and out are F32 (generic kernel only), else BF16
  float* partial_out;             // [batch, num_splits, num_heads, latent_dim]: per-split normalised outputs
  float* partial_lse;             // [batch, num_splits, num_heads]: per-split log2-sum-exp2 of scaled scores
  int batch;
  int num_heads;
  int latent_dim;                 // kv_lora_rank
  int rope_dim;                   // qk_rope_head_dim
  int page_size;
  int num_splits;                 // split-KV parts per sequence, >= 1
  float softmax_scale;            // applied to q.k (qk_head_dim^-0.5 * mscale^2 for DeepSeek)
};

// Split s of a sequence covers pages [begin, end); splits past the active count have no work. A sequence
// with a single active split writes `out` directly; otherwise the combine kernel merges the parts.
struct MlaSplit {
  int begin_page;
  int end_page;
  int active_splits;
};

__host__ __device__ inline MlaSplit mla_split_range(int seq_len, int page_size, int num_splits, int split) {
  int num_pages = (seq_len + page_size - 1) / page_size;
  if (num_pages == 0) return {0, 0, 1};
  int pages_per_split = (num_pages + num_splits - 1) / num_splits;
  int active = (num_pages + pages_per_split - 1) / pages_per_split;
  int begin = split * pages_per_split;
  int end = begin + pages_per_split < num_pages ? begin + pages_per_split : num_pages;
  return {begin, end, active};
}

}  // namespace dsinfer::cuda
