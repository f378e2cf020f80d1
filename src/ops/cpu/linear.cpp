#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/float_rows.h"
#include "ops/cpu/matmul.h"

namespace dsinfer::ops::cpu {

void linear(const Tensor& input, const LinearWeight& weight, Tensor& output, bool quantize_activations) {
  require_f32("linear", input);
  require_f32("linear", output);
  matmul_weight_transposed(input.data_as<const float>(), input.dim(0), weight, output.data_as<float>(),
                           quantize_activations);
}

}  // namespace dsinfer::ops::cpu
