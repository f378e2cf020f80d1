#include <algorithm>
#include <vector>

#include "core/thread_pool.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/float_rows.h"
#include "ops/cpu/matmul.h"
#include "ops/cpu/paged_cache.h"
#include "ops/cpu/softmax_row.h"

namespace dsinfer::ops::cpu {

namespace {

// One query row of one head: causal softmax over keys [visible, key_width] and values [visible, value_width],
// both contiguous per head. Compiled for AVX-512, AVX2 and baseline x86-64, chosen at load time.
#if defined(__x86_64__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
void attend_one_query(const float* query, const float* keys, const float* values, int64_t visible, int64_t key_width,
                      int64_t value_width, float scale, float* scores, float* out) {
  for (int64_t j = 0; j < visible; ++j) scores[j] = dot(query, keys + j * key_width, key_width) * scale;
  softmax_row(scores, visible);
  std::fill_n(out, value_width, 0.0f);
  for (int64_t j = 0; j < visible; ++j) axpy(scores[j], values + j * value_width, out, value_width);
}

}  // namespace

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

  std::vector<float> latents, expanded, keys, values;
  for (int64_t s = 0; s < batch.num_sequences; ++s) {
    const int64_t first_row = query_start[s], new_tokens = query_start[s + 1] - first_row, length = kv_length[s];
    DSINFER_CHECK(new_tokens >= 0 && first_row + new_tokens <= q.dim(0) && new_tokens <= length,
                  "ops::mla_prefill_attention: sequence ", s, " has ", new_tokens, " query rows from row ", first_row,
                  " and ", length, " KV tokens (of ", q.dim(0), " rows)");
    PagedCacheReader reader(kv_cache, batch, s);
    latents.resize(static_cast<size_t>(length * latent_dim));       // [L, kv_lora_rank]
    expanded.resize(static_cast<size_t>(length * expanded_width));  // [L, heads, qk_nope + v]
    keys.resize(static_cast<size_t>(heads * length * qk_dim));      // [heads, L, qk_nope + qk_rope]
    values.resize(static_cast<size_t>(heads * length * v_dim));     // [heads, L, v]
    for (int64_t j = 0; j < length; ++j) std::copy_n(reader.entry(j), latent_dim, latents.data() + j * latent_dim);
    matmul_weight_transposed(latents.data(), length, kv_b_proj, expanded.data(), quantize_activations);
    // Per-head contiguous keys (expanded nope part + the shared rope key) and values.
    parallel_for(length, 64, [&](int64_t begin, int64_t end) {
      for (int64_t j = begin; j < end; ++j) {
        const float* rope_key = reader.entry(j) + latent_dim;
        for (int64_t h = 0; h < heads; ++h) {
          const float* source = expanded.data() + j * expanded_width + h * (nope_dim + v_dim);
          float* key = keys.data() + (h * length + j) * qk_dim;
          std::copy_n(source, nope_dim, key);
          std::copy_n(rope_key, rope_dim, key + nope_dim);
          std::copy_n(source + nope_dim, v_dim, values.data() + (h * length + j) * v_dim);
        }
      }
    });
    parallel_for(new_tokens * heads, 4, [&](int64_t begin, int64_t end) {
      std::vector<float> scores(static_cast<size_t>(length));
      for (int64_t task = begin; task < end; ++task) {
        const int64_t h = task / new_tokens, i = task % new_tokens, visible = length - new_tokens + i + 1;  // causal
        attend_one_query(queries + ((first_row + i) * heads + h) * qk_dim, keys.data() + h * length * qk_dim,
                         values.data() + h * length * v_dim, visible, qk_dim, v_dim, scale, scores.data(),
                         out + ((first_row + i) * heads + h) * v_dim);
      }
    });
  }
}

}  // namespace dsinfer::ops::cpu
