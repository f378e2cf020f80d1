#include "ops/copy.h"

#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cuda/cuda_ops.h"
#include "ops/dispatch.h"

namespace dsinfer::ops {

void copy(const Tensor& source, Tensor& destination) {
  DSINFER_CHECK(source.shape() == destination.shape() && source.dtype() == destination.dtype(),
                "ops::copy: source ", source.describe(), " and destination ", destination.describe(),
                " differ in shape or dtype");
  if (source.device() == Device::kCpu && destination.device() == Device::kCpu) {
    cpu::copy(source, destination);
  } else {
    cuda::copy(source, destination);
  }
}

void cast(const Tensor& source, Tensor& destination) {
  DSINFER_CHECK(source.shape() == destination.shape(), "ops::cast: source ", source.describe(),
                " and destination ", destination.describe(), " differ in shape");
  if (common_device("cast", {&source, &destination}) == Device::kCpu) {
    cpu::cast(source, destination);
  } else {
    cuda::cast(source, destination);
  }
}

}  // namespace dsinfer::ops
