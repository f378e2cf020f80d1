#include "ops/linear.h"

#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cuda/cuda_ops.h"
#include "ops/dispatch.h"

namespace dsinfer::ops {

void check_linear_shapes(const char* op_name, const Tensor& input, const LinearWeight& weight, const Tensor& output) {
  const Tensor& w = weight.weight;
  DSINFER_CHECK(w.rank() == 2, "ops::", op_name, ": weight must be [N, K], got ", w.describe());
  DSINFER_CHECK(input.rank() == 2 && input.dim(1) == w.dim(1), "ops::", op_name, ": input ", input.describe(),
                " does not match weight ", w.describe());
  DSINFER_CHECK(output.rank() == 2 && output.dim(0) == input.dim(0) && output.dim(1) == w.dim(0), "ops::", op_name,
                ": output ", output.describe(), " should be [", input.dim(0), ", ", w.dim(0), "]");
  if (weight.is_fp8()) {
    int64_t block_rows = (w.dim(0) + weight.block_rows - 1) / weight.block_rows;
    int64_t block_cols = (w.dim(1) + weight.block_cols - 1) / weight.block_cols;
    DSINFER_CHECK(weight.scale_inv.defined() && weight.scale_inv.dtype() == DType::kF32 &&
                      weight.scale_inv.shape() == Shape({block_rows, block_cols}),
                  "ops::", op_name, ": FP8 weight ", w.describe(), " needs an F32 scale_inv [", block_rows, ", ",
                  block_cols, "], got ", weight.scale_inv.defined() ? weight.scale_inv.describe() : "none");
  }
}

void linear(const Tensor& input, const LinearWeight& weight, Tensor& output, bool quantize_activations) {
  const Tensor& w = weight.weight;
  check_linear_shapes("linear", input, weight, output);
  if (common_device("linear", {&input, &w, &weight.scale_inv, &output}) == Device::kCpu) {
    cpu::linear(input, weight, output, quantize_activations);
  } else {
    cuda::linear(input, weight, output, quantize_activations);
  }
}

}  // namespace dsinfer::ops
