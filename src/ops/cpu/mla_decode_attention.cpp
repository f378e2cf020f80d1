#include <algorithm>
#include <vector>

#include "core/thread_pool.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/float_rows.h"
#include "ops/cpu/paged_cache.h"
#include "ops/cpu/softmax_row.h"

namespace dsinfer::ops::cpu {

namespace {

struct AbsorbedHead {
  const float* query;         // [qk_nope + qk_rope]
  const float* key_absorb;    // W_UK[h] [latent, qk_nope]
  const float* value_absorb;  // W_UV[h] [v, latent]
  int64_t nope_dim, rope_dim, latent_dim, v_dim;
};

// One head of one decode sequence (scratch: query_latent / latent_out [latent], scores [length]). Compiled for
// AVX-512, AVX2 and baseline x86-64, chosen at load time.
#if defined(__x86_64__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
void attend_absorbed(const AbsorbedHead& head, const PagedCacheReader& reader, int64_t length, float scale,
                     float* query_latent, float* scores, float* latent_out, float* out) {
  const int64_t latent_dim = head.latent_dim;
  // q_latent = W_UK[h] . q_nope   [latent]
  for (int64_t c = 0; c < latent_dim; ++c) query_latent[c] = dot(head.key_absorb + c * head.nope_dim, head.query, head.nope_dim);
  const float* query_rope = head.query + head.nope_dim;
  for (int64_t j = 0; j < length; ++j) {
    const float* entry = reader.entry(j);
    scores[j] = (dot(query_latent, entry, latent_dim) + dot(query_rope, entry + latent_dim, head.rope_dim)) * scale;
  }
  softmax_row(scores, length);
  std::fill_n(latent_out, latent_dim, 0.0f);
  for (int64_t j = 0; j < length; ++j) axpy(scores[j], reader.entry(j), latent_out, latent_dim);
  // output = W_UV[h] . o_latent   [v]
  for (int64_t d = 0; d < head.v_dim; ++d) out[d] = dot(head.value_absorb + d * latent_dim, latent_out, latent_dim);
}

}  // namespace

void mla_decode_attention(const Tensor& q, const Tensor& kv_cache, const Tensor& w_uk, const Tensor& w_uv,
                          const AttentionBatch& batch, double softmax_scale, Tensor& output) {
  require_f32("mla_decode_attention", q);
  require_f32("mla_decode_attention", kv_cache);
  require_f32("mla_decode_attention", w_uk);
  require_f32("mla_decode_attention", w_uv);
  require_f32("mla_decode_attention", output);
  const int64_t sequences = q.dim(0), heads = q.dim(1), qk_dim = q.dim(2);
  const int64_t latent_dim = w_uk.dim(1), nope_dim = w_uk.dim(2), v_dim = w_uv.dim(1), rope_dim = qk_dim - nope_dim;
  const int32_t* kv_length = batch.kv_length.data_as<const int32_t>();
  const float* queries = q.data_as<const float>();
  const float* key_absorb = w_uk.data_as<const float>();    // [heads, latent, nope]
  const float* value_absorb = w_uv.data_as<const float>();  // [heads, v, latent]
  float* out = output.data_as<float>();
  const float scale = static_cast<float>(softmax_scale);

  std::vector<PagedCacheReader> readers;
  for (int64_t s = 0; s < sequences; ++s) readers.emplace_back(kv_cache, batch, s);
  parallel_for(sequences * heads, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> query_latent(static_cast<size_t>(latent_dim)), latent_out(query_latent.size()), scores;
    for (int64_t task = begin; task < end; ++task) {
      const int64_t s = task / heads, h = task % heads;
      scores.resize(static_cast<size_t>(kv_length[s]));
      AbsorbedHead head{queries + (s * heads + h) * qk_dim, key_absorb + h * latent_dim * nope_dim,
                        value_absorb + h * v_dim * latent_dim, nope_dim, rope_dim, latent_dim, v_dim};
      attend_absorbed(head, readers[s], kv_length[s], scale, query_latent.data(), scores.data(), latent_out.data(),
                      out + (s * heads + h) * v_dim);
    }
  });
}

}  // namespace dsinfer::ops::cpu
