#include <cmath>

#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/float_rows.h"

namespace dsinfer::ops::cpu {

void silu_and_mul(const Tensor& gate, const Tensor& up, Tensor& output) {
  require_f32("silu_and_mul", gate);
  require_f32("silu_and_mul", up);
  require_f32("silu_and_mul", output);
  const float* g = gate.data_as<const float>();
  const float* u = up.data_as<const float>();
  float* out = output.data_as<float>();
  for (int64_t i = 0; i < gate.numel(); ++i) out[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

}  // namespace dsinfer::ops::cpu
