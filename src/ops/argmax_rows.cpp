#include "ops/argmax_rows.h"

#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cuda/cuda_ops.h"
#include "ops/dispatch.h"

namespace dsinfer::ops {

void argmax_rows(const Tensor& logits, Tensor& ids) {
  DSINFER_CHECK(logits.rank() == 2 && logits.dtype() == DType::kF32 && logits.dim(1) > 0,
                "ops::argmax_rows: logits must be F32 [R, V], got ", logits.describe());
  DSINFER_CHECK(ids.shape() == Shape({logits.dim(0)}) && ids.dtype() == DType::kI32, "ops::argmax_rows: ids must be I32 [",
                logits.dim(0), "], got ", ids.describe());
  if (common_device("argmax_rows", {&logits, &ids}) == Device::kCpu) {
    cpu::argmax_rows(logits, ids);
  } else {
    cuda::argmax_rows(logits, ids);
  }
}

}  // namespace dsinfer::ops
