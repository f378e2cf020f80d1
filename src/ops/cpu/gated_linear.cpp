#include "ops/cpu/cpu_ops.h"

namespace dsinfer::ops::cpu {

void silu_gated_linear(const Tensor& input, const LinearWeight& gate, const LinearWeight& up, Tensor& output,
                       bool quantize_activations) {
  Tensor up_output = Tensor::empty(output.shape(), DType::kF32);  // [T, I]
  cpu::linear(input, gate, output, quantize_activations);
  cpu::linear(input, up, up_output, quantize_activations);
  cpu::silu_and_mul(output, up_output, output);
}

}  // namespace dsinfer::ops::cpu
