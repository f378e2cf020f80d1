#include "ops/add_rms_norm.h"

#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cuda/cuda_ops.h"
#include "ops/dispatch.h"

namespace dsinfer::ops {

void add_rms_norm(Tensor& residual, const Tensor& addend, const Tensor& weight, double epsilon, Tensor& output) {
  DSINFER_CHECK(residual.rank() == 2 && weight.rank() == 1 && weight.dim(0) == residual.dim(1),
                "ops::add_rms_norm: residual ", residual.describe(), " does not match weight ", weight.describe());
  DSINFER_CHECK(addend.shape() == residual.shape() && output.shape() == residual.shape(),
                "ops::add_rms_norm: addend ", addend.describe(), " and output ", output.describe(),
                " should be ", shape_to_string(residual.shape()));
  DSINFER_CHECK(output.data() != residual.data() && output.data() != addend.data(),
                "ops::add_rms_norm: output must not alias residual or addend");
  if (common_device("add_rms_norm", {&residual, &addend, &weight, &output}) == Device::kCpu) {
    cpu::add_rms_norm(residual, addend, weight, epsilon, output);
  } else {
    cuda::add_rms_norm(residual, addend, weight, epsilon, output);
  }
}

}  // namespace dsinfer::ops
