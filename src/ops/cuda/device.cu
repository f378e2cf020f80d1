// ops::initialize_device(kCuda): the CUDA backend's runtime set-up (device, memory pool, compute stream).
#include "kernels/runtime/device.h"
#include "ops/cuda/cuda_ops.h"

namespace dsinfer::ops::cuda {

void initialize_device() { dsinfer::cuda::initialize(); }

}  // namespace dsinfer::ops::cuda
