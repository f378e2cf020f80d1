#include "ops/cpu/cpu_ops.h"

namespace dsinfer::ops::cpu {

void linear_pair(const Tensor& input, const LinearWeight& first, const LinearWeight& second, Tensor& first_output,
                 Tensor& second_output, bool quantize_activations) {
  cpu::linear(input, first, first_output, quantize_activations);
  cpu::linear(input, second, second_output, quantize_activations);
}

}  // namespace dsinfer::ops::cpu
