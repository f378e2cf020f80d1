#include "ops/mla_decode_attention.h"

#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cuda/cuda_ops.h"
#include "ops/dispatch.h"

namespace dsinfer::ops {

void mla_decode_attention(const Tensor& q, const Tensor& kv_cache, const Tensor& w_uk, const Tensor& w_uv,
                          const AttentionBatch& batch, double softmax_scale, Tensor& output) {
  DSINFER_CHECK(q.rank() == 3 && kv_cache.rank() == 3 && w_uk.rank() == 3 && w_uv.rank() == 3 && output.rank() == 3,
                "ops::mla_decode_attention: q, kv_cache, w_uk, w_uv and output must be rank 3");
  int64_t heads = q.dim(1), kv_lora_rank = w_uk.dim(1), nope_dim = w_uk.dim(2), v_head_dim = w_uv.dim(1);
  int64_t rope_dim = q.dim(2) - nope_dim;
  DSINFER_CHECK(w_uk.dim(0) == heads && w_uv.dim(0) == heads && w_uv.dim(2) == kv_lora_rank && rope_dim > 0 &&
                    kv_cache.dim(2) == kv_lora_rank + rope_dim,
                "ops::mla_decode_attention: q ", q.describe(), ", w_uk ", w_uk.describe(), ", w_uv ", w_uv.describe(),
                " and cache ", kv_cache.describe(), " do not agree");
  DSINFER_CHECK(output.shape() == Shape({q.dim(0), heads, v_head_dim}), "ops::mla_decode_attention: output ",
                output.describe(), " should be [", q.dim(0), ", ", heads, ", ", v_head_dim, "]");
  check_attention_batch("mla_decode_attention", batch, q.dim(0));
  DSINFER_CHECK(batch.num_sequences == q.dim(0), "ops::mla_decode_attention: ", batch.num_sequences,
                " sequences but ", q.dim(0), " query rows (one new token per decode sequence)");
  if (common_device("mla_decode_attention", {&q, &kv_cache, &w_uk, &w_uv, &batch.query_start, &output}) ==
      Device::kCpu) {
    cpu::mla_decode_attention(q, kv_cache, w_uk, w_uv, batch, softmax_scale, output);
  } else {
    cuda::mla_decode_attention(q, kv_cache, w_uk, w_uv, batch, softmax_scale, output);
  }
}

}  // namespace dsinfer::ops
