#include "ops/linear_pair.h"

#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cuda/cuda_ops.h"
#include "ops/dispatch.h"

namespace dsinfer::ops {

void linear_pair(const Tensor& input, const LinearWeight& first, const LinearWeight& second, Tensor& first_output,
                 Tensor& second_output, bool quantize_activations) {
  check_linear_shapes("linear_pair", input, first, first_output);
  check_linear_shapes("linear_pair", input, second, second_output);
  if (common_device("linear_pair", {&input, &first.weight, &first.scale_inv, &second.weight, &second.scale_inv,
                                    &first_output, &second_output}) == Device::kCpu) {
    cpu::linear_pair(input, first, second, first_output, second_output, quantize_activations);
  } else {
    cuda::linear_pair(input, first, second, first_output, second_output, quantize_activations);
  }
}

}  // namespace dsinfer::ops
