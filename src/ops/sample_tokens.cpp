#include "ops/sample_tokens.h"

#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cuda/cuda_ops.h"
#include "ops/dispatch.h"

namespace dsinfer::ops {

void sample_tokens(const Tensor& logits, const Tensor& temperature, const Tensor& top_k, const Tensor& top_p,
                   const Tensor& seeds, Tensor& ids) {
  DSINFER_CHECK(logits.rank() == 2 && logits.dtype() == DType::kF32 && logits.dim(1) > 0,
                "ops::sample_tokens: logits must be F32 [R, V], got ", logits.describe());
  const Shape rows{logits.dim(0)};
  DSINFER_CHECK(temperature.shape() == rows && temperature.dtype() == DType::kF32, "ops::sample_tokens: temperature must be F32 ",
                shape_to_string(rows), ", got ", temperature.describe());
  DSINFER_CHECK(top_k.shape() == rows && top_k.dtype() == DType::kI32, "ops::sample_tokens: top_k must be I32 ",
                shape_to_string(rows), ", got ", top_k.describe());
  DSINFER_CHECK(top_p.shape() == rows && top_p.dtype() == DType::kF32, "ops::sample_tokens: top_p must be F32 ",
                shape_to_string(rows), ", got ", top_p.describe());
  DSINFER_CHECK(seeds.shape() == rows && seeds.dtype() == DType::kU64, "ops::sample_tokens: seeds must be U64 ",
                shape_to_string(rows), ", got ", seeds.describe());
  DSINFER_CHECK(ids.shape() == rows && ids.dtype() == DType::kI32, "ops::sample_tokens: ids must be I32 ",
                shape_to_string(rows), ", got ", ids.describe());
  if (common_device("sample_tokens", {&logits, &temperature, &top_k, &top_p, &seeds, &ids}) == Device::kCpu) {
    cpu::sample_tokens(logits, temperature, top_k, top_p, seeds, ids);
  } else {
    cuda::sample_tokens(logits, temperature, top_k, top_p, seeds, ids);
  }
}

}  // namespace dsinfer::ops
