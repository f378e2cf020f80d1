#include "ops/fill_random.h"

#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cuda/cuda_ops.h"

namespace dsinfer::ops {

void fill_random(Tensor& tensor, uint64_t seed, float low, float high) {
  DSINFER_CHECK(low <= high, "ops::fill_random: low ", low, " > high ", high);
  if (tensor.device() == Device::kCpu) {
    cpu::fill_random(tensor, seed, low, high);
  } else {
    cuda::fill_random(tensor, seed, low, high);
  }
}

}  // namespace dsinfer::ops
