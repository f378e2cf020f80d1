// Making a device ready before any tensor lives on it.
#pragma once

#include "core/tensor.h"

namespace dsinfer::ops {

// CPU: nothing. CUDA: selects the GPU, reserves its memory pool, installs the Device::kCuda allocator and
// creates the compute stream (idempotent; later calls reuse the first set-up). Throws when dsinfer was built
// without CUDA or no GPU is visible.
void initialize_device(Device device);

}  // namespace dsinfer::ops
