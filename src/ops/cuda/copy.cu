// copy (any pair of devices with a CUDA side) and cast (F32 / BF16 / F16 on the device).
#include "kernels/runtime/op_timing.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/cuda_ops.h"

namespace dsinfer::ops::cuda {

namespace {
__global__ void cast_kernel(const void* source, FloatKind source_kind, void* destination, FloatKind destination_kind,
                            int64_t count) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    store_from_float(destination, destination_kind, i, load_as_float(source, source_kind, i));
}
}  // namespace

void copy(const Tensor& source, Tensor& destination) {
  dsinfer::cuda::OpTimer timer("copy");
  if (source.nbytes() == 0) return;
  cudaStream_t stream = dsinfer::cuda::current_stream();
  cudaMemcpyKind kind = source.device() == Device::kCpu        ? cudaMemcpyHostToDevice
                        : destination.device() == Device::kCpu ? cudaMemcpyDeviceToHost
                                                               : cudaMemcpyDeviceToDevice;
  DSINFER_CUDA_CHECK(cudaMemcpyAsync(destination.data(), source.data(), source.nbytes(), kind, stream));
  // Host memory may be pageable and reused by the caller right away: finish before returning.
  if (kind != cudaMemcpyDeviceToDevice) DSINFER_CUDA_CHECK(cudaStreamSynchronize(stream));
}

Tensor empty_pinned(Shape shape, DType dtype) {
  const size_t bytes = std::max<size_t>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), 1);
  void* memory = nullptr;
  DSINFER_CUDA_CHECK(cudaHostAlloc(&memory, bytes, cudaHostAllocDefault));
  std::shared_ptr<const void> owner(memory, [](const void* pointer) { cudaFreeHost(const_cast<void*>(pointer)); });
  return Tensor::view(memory, std::move(shape), dtype, Device::kCpu, std::move(owner));
}

void upload(const Tensor& staged, Tensor& destination) {
  dsinfer::cuda::OpTimer timer("upload");
  if (staged.nbytes() == 0) return;
  DSINFER_CUDA_CHECK(cudaMemcpyAsync(destination.data(), staged.data(), staged.nbytes(), cudaMemcpyHostToDevice,
                                     dsinfer::cuda::current_stream()));
}

void wait_for_device() { dsinfer::cuda::synchronize(); }

void cast(const Tensor& source, Tensor& destination) {
  dsinfer::cuda::OpTimer timer("cast");
  require_float_dtype("cast", source);
  require_float_dtype("cast", destination);
  const int64_t count = source.numel();
  if (count == 0) return;
  if (source.dtype() == destination.dtype()) {
    DSINFER_CUDA_CHECK(cudaMemcpyAsync(destination.data(), source.data(), source.nbytes(), cudaMemcpyDeviceToDevice,
                                       dsinfer::cuda::current_stream()));
    return;
  }
  constexpr int kThreads = 256;
  unsigned blocks = std::min<unsigned>(blocks_for(count, kThreads), 65536u);
  cast_kernel<<<blocks, kThreads, 0, dsinfer::cuda::current_stream()>>>(
      source.data(), float_kind(source), destination.data(), float_kind(destination), count);
  DSINFER_CUDA_CHECK_LAUNCH("cast_kernel");
}

}  // namespace dsinfer::ops::cuda
