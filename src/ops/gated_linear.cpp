#include "ops/gated_linear.h"

#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cuda/cuda_ops.h"
#include "ops/dispatch.h"

namespace dsinfer::ops {

void silu_gated_linear(const Tensor& input, const LinearWeight& gate, const LinearWeight& up, Tensor& output,
                       bool quantize_activations) {
  DSINFER_CHECK(gate.weight.dtype() == up.weight.dtype() && gate.weight.shape() == up.weight.shape(),
                "ops::silu_gated_linear: gate ", gate.weight.describe(), " and up ", up.weight.describe(),
                " must share a shape and a dtype");
  check_linear_shapes("silu_gated_linear", input, gate, output);
  check_linear_shapes("silu_gated_linear", input, up, output);
  if (common_device("silu_gated_linear", {&input, &gate.weight, &gate.scale_inv, &up.weight, &up.scale_inv, &output}) ==
      Device::kCpu) {
    cpu::silu_gated_linear(input, gate, up, output, quantize_activations);
  } else {
    cuda::silu_gated_linear(input, gate, up, output, quantize_activations);
  }
}

}  // namespace dsinfer::ops
