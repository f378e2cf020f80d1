#include "ops/gather_rows.h"

#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cuda/cuda_ops.h"
#include "ops/dispatch.h"

namespace dsinfer::ops {

void gather_rows(const Tensor& source, const Tensor& indices, Tensor& output) {
  DSINFER_CHECK(source.rank() == 2, "ops::gather_rows: source must be [N, D], got ", source.describe());
  DSINFER_CHECK(indices.rank() == 1 && indices.dtype() == DType::kI32,
                "ops::gather_rows: indices must be I32 [R], got ", indices.describe());
  DSINFER_CHECK(output.shape() == Shape({indices.dim(0), source.dim(1)}), "ops::gather_rows: output ",
                output.describe(), " should be [", indices.dim(0), ", ", source.dim(1), "]");
  if (common_device("gather_rows", {&source, &indices, &output}) == Device::kCpu) {
    cpu::gather_rows(source, indices, output);
  } else {
    cuda::gather_rows(source, indices, output);
  }
}

}  // namespace dsinfer::ops
