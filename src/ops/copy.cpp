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

Tensor empty_staging(Shape shape, DType dtype, Device target) {
  return target == Device::kCpu ? Tensor::empty(std::move(shape), dtype) : cuda::empty_pinned(std::move(shape), dtype);
}

void upload(const Tensor& staged, Tensor& destination) {
  DSINFER_CHECK(staged.shape() == destination.shape() && staged.dtype() == destination.dtype(),
                "ops::upload: source ", staged.describe(), " and destination ", destination.describe(),
                " differ in shape or dtype");
  DSINFER_CHECK(staged.device() == Device::kCpu, "ops::upload: the source must be a host staging tensor, got ",
                staged.describe());
  if (destination.device() == Device::kCpu) {
    cpu::copy(staged, destination);
  } else {
    cuda::upload(staged, destination);
  }
}

void wait_for_device(Device device) {
  if (device != Device::kCpu) cuda::wait_for_device();
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
