// Causal attention of MLA prefill, un-absorbed: per head, queries [new, nope + rope] against keys
// [kv_len, nope (expanded through kv_b_proj) + rope (shared by all heads, from the cache)], values
// [kv_len, v] (expanded). Query row i of a sequence with n new tokens sits at position kv_len - n + i and
// sees keys 0 ..= that position. The expansion itself is a linear op run by the caller.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace dsinfer::cuda {

struct MlaPrefillParams {
  const void* q;                   // [rows, heads, nope + rope]
  const int32_t* query_start;      // [sequences + 1]
  const int32_t* kv_length;        // [sequences]
  const void* expanded;            // [sequences * kv_stride, heads, nope + v]: row s * kv_stride + j = key j of s
  const void* rope_keys;           // [sequences * kv_stride, rope]
  int kv_stride;                   // rows reserved per sequence (>= its kv_length)
  void* out;                       // [rows, heads, v]
  bool f32;                        // q, expanded, rope_keys and out are F32 (generic kernel only), else BF16
  int sequences, heads, nope_dim, rope_dim, v_dim;
  int max_query_length;
  float softmax_scale;
};

// Tensor-core kernel for DeepSeek's 128 + 64 / 128 head dims in BF16, a CUDA-core kernel for any other sizes
// and for F32.
void run_mla_prefill(const MlaPrefillParams& params, cudaStream_t stream);

// Gathers each sequence's cache entries into contiguous rows: latents [sequences * kv_stride, latent] and
// rope keys [sequences * kv_stride, rope]; rows past a sequence's length are zero. Cache and outputs are all
// BF16, or all F32 (f32).
void gather_mla_latents(const void* kv_cache, bool f32, int page_size, const int32_t* page_table,
                        int page_table_stride, const int32_t* kv_length, int sequences, int kv_stride, int latent_dim,
                        int rope_dim, void* latents, void* rope_keys, cudaStream_t stream);

}  // namespace dsinfer::cuda
