#include "ops/mla_cache_write.h"

#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cuda/cuda_ops.h"
#include "ops/dispatch.h"

namespace dsinfer::ops {

void mla_cache_write(const Tensor& kv_a, const Tensor& norm_weight, double epsilon, const Tensor& positions,
                     const Tensor& cos_sin, const Tensor& slots, Tensor& kv_cache, bool quantize_latent,
                     Tensor* rope_query) {
  DSINFER_CHECK(kv_cache.rank() == 3, "ops::mla_cache_write: kv_cache must be [pages, page_size, width], got ",
                kv_cache.describe());
  int64_t width = kv_cache.dim(2);
  DSINFER_CHECK(kv_a.rank() == 2 && kv_a.dim(1) == width, "ops::mla_cache_write: kv_a ", kv_a.describe(),
                " does not match the cache entry width ", width);
  DSINFER_CHECK(norm_weight.rank() == 1 && cos_sin.rank() == 2 && norm_weight.dim(0) + cos_sin.dim(1) == width,
                "ops::mla_cache_write: kv_a_layernorm ", norm_weight.describe(), " + rope ", cos_sin.describe(),
                " do not add up to the cache width ", width);
  Shape per_token{kv_a.dim(0)};
  DSINFER_CHECK(positions.shape() == per_token && positions.dtype() == DType::kI32 && slots.shape() == per_token &&
                    slots.dtype() == DType::kI32,
                "ops::mla_cache_write: positions ", positions.describe(), " and slots ", slots.describe(),
                " must be I32 [", kv_a.dim(0), "]");
  if (rope_query != nullptr) {
    DSINFER_CHECK(rope_query->rank() == 3 && rope_query->dim(0) == kv_a.dim(0) && rope_query->dim(2) >= cos_sin.dim(1) &&
                      rope_query->dtype() == kv_a.dtype(),
                  "ops::mla_cache_write: the query to rotate ", rope_query->describe(), " must be [", kv_a.dim(0),
                  ", heads, >= ", cos_sin.dim(1), "] in kv_a's dtype");
  }
  const Tensor no_query;
  if (common_device("mla_cache_write", {&kv_a, &norm_weight, &positions, &cos_sin, &slots, &kv_cache,
                                        rope_query != nullptr ? rope_query : &no_query}) == Device::kCpu) {
    if (rope_query != nullptr) cpu::rope(*rope_query, positions, cos_sin);
    cpu::mla_cache_write(kv_a, norm_weight, epsilon, positions, cos_sin, slots, kv_cache, quantize_latent);
  } else {
    cuda::mla_cache_write(kv_a, norm_weight, epsilon, positions, cos_sin, slots, kv_cache, quantize_latent, rope_query);
  }
}

}  // namespace dsinfer::ops
