// MLA attention for decode sequences (one new token each), absorbed (the bandwidth-efficient form): the
// query is moved into latent space so scores are taken straight against the paged cache entries, and W_UV
// is applied once to the attention-weighted latent.
//   q_latent[h]  = q_nope[h] . W_UK[h]                        [heads, kv_lora_rank]
//   score(j)     = (q_latent[h] . latent[j] + q_rope[h] . k_rope[j]) * softmax_scale, j < kv_len
//   o_latent[h]  = softmax_j(score) . latent[j]                [heads, kv_lora_rank]
//   output[h]    = W_UV[h] . o_latent[h]                       [heads, v_head_dim]
// (The CUDA kernel splits the KV length into chunks and merges their partial softmax results.)
#pragma once

#include "ops/attention_batch.h"

namespace dsinfer::ops {

// q          [B, heads, qk_nope + qk_rope]  activation dtype, rope already applied
// kv_cache   [num_pages, page_size, kv_lora_rank + qk_rope]  with the new tokens already written
// w_uk       [heads, kv_lora_rank, qk_nope]     kv_b_proj's key rows per head, transposed (q_latent[h] =
//                                               W_UK[h] . q_nope[h]), dequantized (activation dtype)
// w_uv       [heads, v_head_dim, kv_lora_rank]  kv_b_proj's value rows per head, dequantized (activation dtype)
// batch      the decode sequences (query_start[s] = s)
// output     [B, heads, v_head_dim]  activation dtype
void mla_decode_attention(const Tensor& q, const Tensor& kv_cache, const Tensor& w_uk, const Tensor& w_uv,
                          const AttentionBatch& batch, double softmax_scale, Tensor& output);

}  // namespace dsinfer::ops
