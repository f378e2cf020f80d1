// Moving and converting whole tensors: host <-> device transfers of batch metadata, weights and results.
#pragma once

#include "core/tensor.h"

namespace dsinfer::ops {

// Same shape and dtype; any pair of devices (CPU <-> CUDA, CUDA <-> CUDA, CPU <-> CPU). Synchronous with
// respect to the host when either side is on the CPU.
void copy(const Tensor& source, Tensor& destination);

// Same shape and device, element type conversion between F32, BF16 and F16 (round-to-nearest-even).
void cast(const Tensor& source, Tensor& destination);

}  // namespace dsinfer::ops
