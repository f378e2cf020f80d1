#include "ops/rms_norm.h"

#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cuda/cuda_ops.h"
#include "ops/dispatch.h"

namespace dsinfer::ops {

void rms_norm(const Tensor& input, const Tensor& weight, double epsilon, Tensor& output) {
  DSINFER_CHECK(input.rank() == 2 && weight.rank() == 1 && weight.dim(0) == input.dim(1),
                "ops::rms_norm: input ", input.describe(), " does not match weight ", weight.describe());
  DSINFER_CHECK(output.shape() == input.shape(), "ops::rms_norm: output ", output.describe(), " should be ",
                shape_to_string(input.shape()));
  if (common_device("rms_norm", {&input, &weight, &output}) == Device::kCpu) {
    cpu::rms_norm(input, weight, epsilon, output);
  } else {
    cuda::rms_norm(input, weight, epsilon, output);
  }
}

}  // namespace dsinfer::ops
