// MLA KV cache write: turns the kv_a_proj_with_mqa output of each new token into its cache entry
//   entry = [ rms_norm(kv_a[:kv_lora_rank]) * kv_a_layernorm | rope(kv_a[kv_lora_rank:]) ]
// and stores it in its slot of the paged cache. This is the only place the cache is written.
#pragma once

#include "core/tensor.h"

namespace dsinfer::ops {

// kv_a       [T, kv_lora_rank + rope_dim]  activation dtype
// norm_weight [kv_lora_rank]               kv_a_layernorm.weight (BF16 / F32)
// positions  [T] I32                       the token's position in its sequence (rope angle)
// cos_sin    [max_positions, rope_dim] F32 as in rope.h
// slots      [T] I32                       page_id * page_size + position % page_size
// kv_cache   [num_pages, page_size, kv_lora_rank + rope_dim]  cache dtype (F32 on CPU, BF16 on CUDA)
// quantize_latent: W8A8 emulation for an FP8 kv_b_proj (CPU): store the normed latent rounded through e4m3 per
//   1x128 group, i.e. as kv_b_proj's quantized input sees it, so absorbed decode attends to the same latents the
//   reference's W8A8 expansion uses. The CUDA backend does the same (the rounded values stored as BF16).
// rope_query [T, heads, head_dim] (optional): the step's query, whose last rope_dim values per head get the same
//   rotation in place, exactly as ops::rope(*rope_query, positions, cos_sin) (one launch fewer on CUDA).
void mla_cache_write(const Tensor& kv_a, const Tensor& norm_weight, double epsilon, const Tensor& positions,
                     const Tensor& cos_sin, const Tensor& slots, Tensor& kv_cache, bool quantize_latent = false,
                     Tensor* rope_query = nullptr);

}  // namespace dsinfer::ops
