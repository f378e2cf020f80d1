// Compiled when CUDA is on: the CUDA backend's runtime (src/kernels/runtime) does the set-up.
#include "kernels/runtime/device.h"
#include "ops/cuda/cuda_ops.h"

namespace dsinfer::ops::cuda {

void initialize_device() { dsinfer::cuda::initialize(); }

}  // namespace dsinfer::ops::cuda
