#include "ops/device.h"

#include "ops/cuda/cuda_ops.h"

namespace dsinfer::ops {

void initialize_device(Device device) {
  if (device == Device::kCuda) cuda::initialize_device();
}

}  // namespace dsinfer::ops
