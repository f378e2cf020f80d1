#include <algorithm>
#include <vector>

#include "core/thread_pool.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/float_rows.h"
#include "ops/cpu/matmul.h"
#include "ops/cpu/paged_cache.h"
#include "ops/cpu/softmax_row.h"

namespace dsinfer::ops::cpu {

void mla_prefill_attention(const Tensor& q, const Tensor& kv_cache, const LinearWeight& kv_b_proj,
                           const AttentionBatch& batch, double softmax_scale, Tensor& output,
                           bool quantize_activations) {
  require_f32("mla_prefill_attention", q);
  require_f32("mla_prefill_attention", kv_cache);
  require_f32("mla_prefill_attention", output);
  const int64_t heads = q.dim(1), qk_dim = q.dim(2), v_dim = output.dim(2);
  const int64_t latent_dim = kv_b_proj.in_features(), rope_dim = kv_cache.dim(2) - latent_dim;
  const int64_t nope_dim = qk_dim - rope_dim, expanded_width = heads * (nope_dim + v_dim);
  const int32_t* query_start = batch.query_start.data_as<const int32_t>();
  const int32_t* kv_length = batch.kv_length.data_as<const int32_t>();
  const float* queries = q.data_as<const float>();
  float* out = output.data_as<float>();
  const float scale = static_cast<float>(softmax_scale);

  std::vector<float> latents, rope_keys, expanded;
  for (int64_t s = 0; s < batch.num_sequences; ++s) {
    const int64_t first_row = query_start[s], new_tokens = query_start[s + 1] - first_row, length = kv_length[s];
    DSINFER_CHECK(new_tokens >= 0 && first_row + new_tokens <= q.dim(0) && new_tokens <= length,
                  "ops::mla_prefill_attention: sequence ", s, " has ", new_tokens, " query rows from row ", first_row,
                  " and ", length, " KV tokens (of ", q.dim(0), " rows)");
    PagedCacheReader reader(kv_cache, batch, s);
    latents.resize(static_cast<size_t>(length * latent_dim));          // [L, kv_lora_rank]
    rope_keys.resize(static_cast<size_t>(length * rope_dim));          // [L, qk_rope]
    expanded.resize(static_cast<size_t>(length * expanded_width));     // [L, heads, qk_nope + v]
    for (int64_t j = 0; j < length; ++j) {
      const float* entry = reader.entry(j);
      std::copy_n(entry, latent_dim, latents.data() + j * latent_dim);
      std::copy_n(entry + latent_dim, rope_dim, rope_keys.data() + j * rope_dim);
    }
    matmul_weight_transposed(latents.data(), length, kv_b_proj, expanded.data(), quantize_activations);

    parallel_for(new_tokens * heads, 4, [&](int64_t begin, int64_t end) {
      std::vector<float> scores(static_cast<size_t>(length));
      for (int64_t task = begin; task < end; ++task) {
        const int64_t i = task / heads, h = task % heads, visible = length - new_tokens + i + 1;  // causal
        const float* query = queries + ((first_row + i) * heads + h) * qk_dim;
        for (int64_t j = 0; j < visible; ++j) {
          const float* key_nope = expanded.data() + j * expanded_width + h * (nope_dim + v_dim);
          scores[j] = (dot(query, key_nope, nope_dim) + dot(query + nope_dim, rope_keys.data() + j * rope_dim, rope_dim)) *
                      scale;
        }
        softmax_row(scores.data(), visible);
        float* result = out + ((first_row + i) * heads + h) * v_dim;
        std::fill_n(result, v_dim, 0.0f);
        for (int64_t j = 0; j < visible; ++j)
          axpy(scores[j], expanded.data() + j * expanded_width + h * (nope_dim + v_dim) + nope_dim, result, v_dim);
      }
    });
  }
}

}  // namespace dsinfer::ops::cpu
