#include <algorithm>
#include <vector>

#include "core/thread_pool.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/float_rows.h"
#include "ops/cpu/paged_cache.h"
#include "ops/cpu/softmax_row.h"

namespace dsinfer::ops::cpu {

void mla_decode_attention(const Tensor& q, const Tensor& kv_cache, const Tensor& w_uk, const Tensor& w_uv,
                          const AttentionBatch& batch, double softmax_scale, Tensor& output) {
  require_f32("mla_decode_attention", q);
  require_f32("mla_decode_attention", kv_cache);
  require_f32("mla_decode_attention", w_uk);
  require_f32("mla_decode_attention", w_uv);
  require_f32("mla_decode_attention", output);
  const int64_t sequences = q.dim(0), heads = q.dim(1), qk_dim = q.dim(2);
  const int64_t nope_dim = w_uk.dim(1), latent_dim = w_uk.dim(2), v_dim = w_uv.dim(1), rope_dim = qk_dim - nope_dim;
  const int32_t* kv_length = batch.kv_length.data_as<const int32_t>();
  const float* queries = q.data_as<const float>();
  const float* key_absorb = w_uk.data_as<const float>();    // [heads, nope, latent]
  const float* value_absorb = w_uv.data_as<const float>();  // [heads, v, latent]
  float* out = output.data_as<float>();
  const float scale = static_cast<float>(softmax_scale);

  std::vector<PagedCacheReader> readers;
  for (int64_t s = 0; s < sequences; ++s) readers.emplace_back(kv_cache, batch, s);
  parallel_for(sequences * heads, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> query_latent(static_cast<size_t>(latent_dim)), latent_out(query_latent.size()), scores;
    for (int64_t task = begin; task < end; ++task) {
      const int64_t s = task / heads, h = task % heads, length = kv_length[s];
      const float* query = queries + (s * heads + h) * qk_dim;
      // q_latent = q_nope . W_UK[h]   [latent]
      std::fill(query_latent.begin(), query_latent.end(), 0.0f);
      for (int64_t i = 0; i < nope_dim; ++i)
        axpy(query[i], key_absorb + (h * nope_dim + i) * latent_dim, query_latent.data(), latent_dim);
      scores.resize(static_cast<size_t>(length));
      for (int64_t j = 0; j < length; ++j) {
        const float* entry = readers[s].entry(j);
        scores[j] = (dot(query_latent.data(), entry, latent_dim) + dot(query + nope_dim, entry + latent_dim, rope_dim)) *
                    scale;
      }
      softmax_row(scores.data(), length);
      std::fill(latent_out.begin(), latent_out.end(), 0.0f);
      for (int64_t j = 0; j < length; ++j) axpy(scores[j], readers[s].entry(j), latent_out.data(), latent_dim);
      // output = W_UV[h] . o_latent   [v]
      float* result = out + (s * heads + h) * v_dim;
      for (int64_t d = 0; d < v_dim; ++d)
        result[d] = dot(value_absorb + (h * v_dim + d) * latent_dim, latent_out.data(), latent_dim);
    }
  });
}

}  // namespace dsinfer::ops::cpu
