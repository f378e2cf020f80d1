// Moving and converting whole tensors: host <-> device transfers of batch metadata, weights and results.
#pragma once

#include "core/tensor.h"

namespace dsinfer::ops {

// Same shape and dtype; any pair of devices (CPU <-> CUDA, CUDA <-> CUDA, CPU <-> CPU). Synchronous with
// respect to the host when either side is on the CPU.
void copy(const Tensor& source, Tensor& destination);

// Per-step uploads of host-built metadata (token ids, positions, page tables) without a host round trip per
// copy, in three steps: wait_for_device(), write the staging tensor, upload() it.
// A host tensor to upload from: page-locked when `target` is CUDA (so the copy can run while the host goes
// on), ordinary memory when it is the CPU.
Tensor empty_staging(Shape shape, DType dtype, Device target);
// Queues a copy from a staging tensor (empty_staging, or a slice of one) to `destination` and returns: on
// CUDA it runs on the compute stream in order with the ops queued after it. The source must not be written
// again until wait_for_device() has returned. CPU -> CPU copies at once.
void upload(const Tensor& staged, Tensor& destination);
// Waits until everything queued on `device` has run (CUDA: the compute stream; the CPU: nothing).
void wait_for_device(Device device);

// Same shape and device, element type conversion between F32, BF16 and F16 (round-to-nearest-even).
void cast(const Tensor& source, Tensor& destination);

}  // namespace dsinfer::ops
