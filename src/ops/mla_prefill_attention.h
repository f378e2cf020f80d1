// MLA attention for prefill / chunked-prefill sequences, un-absorbed (the compute-efficient form for many
// query tokens): the sequence's latents (cached prefix + new chunk) are expanded through kv_b_proj into
// per-head keys and values, then ordinary causal attention runs with q/k head dim qk_nope + qk_rope and
// v head dim v_head_dim.
//   k_nope, v = split(kv_b_proj(latent))          [kv_len, heads, qk_nope] / [kv_len, heads, v_head_dim]
//   score(i, j) = (q_nope[i].k_nope[j] + q_rope[i].k_rope[j]) * softmax_scale, for kv position j <= the
//                 query's position (query row i of a sequence with n new tokens sits at kv_len - n + i)
//   output[i]   = softmax_j(score(i, j)) . v[j]
#pragma once

#include "ops/attention_batch.h"
#include "ops/linear.h"

namespace dsinfer::ops {

// q          [T, heads, qk_nope + qk_rope]  activation dtype, rope already applied to the last qk_rope
// kv_cache   [num_pages, page_size, kv_lora_rank + qk_rope]  with this batch's new tokens already written
// kv_b_proj  [heads * (qk_nope + v_head_dim), kv_lora_rank]  (this rank's heads); rows of head h:
//            [h * (qk_nope + v), h * (qk_nope + v) + qk_nope) are W_UK, the next v_head_dim rows W_UV
// batch      the prefill sequences; q rows are batch-relative (row 0 = first prefill token)
// output     [T, heads, v_head_dim]  activation dtype
// quantize_activations: W8A8 emulation for an FP8 kv_b_proj (the latents are quantized per 1x128 group)
void mla_prefill_attention(const Tensor& q, const Tensor& kv_cache, const LinearWeight& kv_b_proj,
                           const AttentionBatch& batch, double softmax_scale, Tensor& output,
                           bool quantize_activations = false);

}  // namespace dsinfer::ops
