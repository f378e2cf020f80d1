#include "ops/silu_and_mul.h"

#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cuda/cuda_ops.h"
#include "ops/dispatch.h"

namespace dsinfer::ops {

void silu_and_mul(const Tensor& gate, const Tensor& up, Tensor& output) {
  DSINFER_CHECK(gate.rank() == 2 && up.shape() == gate.shape() && output.shape() == gate.shape(),
                "ops::silu_and_mul: gate ", gate.describe(), ", up ", up.describe(), " and output ",
                output.describe(), " must be the same [T, I]");
  if (common_device("silu_and_mul", {&gate, &up, &output}) == Device::kCpu) {
    cpu::silu_and_mul(gate, up, output);
  } else {
    cuda::silu_and_mul(gate, up, output);
  }
}

}  // namespace dsinfer::ops
