#include "ops/mla_prefill_attention.h"

#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cuda/cuda_ops.h"
#include "ops/dispatch.h"

namespace dsinfer::ops {

void mla_prefill_attention(const Tensor& q, const Tensor& kv_cache, const LinearWeight& kv_b_proj,
                           const AttentionBatch& batch, double softmax_scale, Tensor& output,
                           bool quantize_activations) {
  DSINFER_CHECK(q.rank() == 3 && output.rank() == 3 && output.dim(0) == q.dim(0) && output.dim(1) == q.dim(1),
                "ops::mla_prefill_attention: q ", q.describe(), " and output ", output.describe(),
                " must be [T, heads, *]");
  DSINFER_CHECK(kv_cache.rank() == 3, "ops::mla_prefill_attention: kv_cache must be [pages, page_size, width], got ",
                kv_cache.describe());
  int64_t heads = q.dim(1), v_head_dim = output.dim(2), kv_lora_rank = kv_b_proj.in_features();
  int64_t rope_dim = kv_cache.dim(2) - kv_lora_rank, nope_dim = q.dim(2) - rope_dim;
  DSINFER_CHECK(rope_dim > 0 && nope_dim > 0 && kv_b_proj.out_features() == heads * (nope_dim + v_head_dim),
                "ops::mla_prefill_attention: kv_b_proj ", kv_b_proj.weight.describe(), " does not match q ",
                q.describe(), ", output ", output.describe(), " and cache ", kv_cache.describe());
  check_attention_batch("mla_prefill_attention", batch, q.dim(0));
  if (common_device("mla_prefill_attention", {&q, &kv_cache, &kv_b_proj.weight, &batch.query_start, &output}) ==
      Device::kCpu) {
    cpu::mla_prefill_attention(q, kv_cache, kv_b_proj, batch, softmax_scale, output, quantize_activations);
  } else {
    cuda::mla_prefill_attention(q, kv_cache, kv_b_proj, batch, softmax_scale, output, quantize_activations);
  }
}

}  // namespace dsinfer::ops
