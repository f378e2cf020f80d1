// The process's CUDA device: selection, the memory pool behind Device::kCuda tensors, and the compute
// stream every op launches on. Call initialize() once at start-up (the model runner, `dsinfer bench` and
// the GPU tests do); later calls with any options return the existing state.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "core/tensor.h"
#include "kernels/runtime/device_pool.h"

namespace dsinfer::cuda {

struct DeviceOptions {
  int device_index = 0;
  // Share of the device memory free at start-up that the pool reserves (SGLang's --mem-fraction-static).
  double memory_fraction = 0.9;
  // If nonzero, reserve exactly this many bytes instead of the fraction.
  size_t pool_bytes = 0;
  // Debugging: every tensor gets its own cudaMalloc instead of a pool block, so compute-sanitizer sees each
  // allocation's bounds. Also switched on by the environment variable DSINFER_CUDA_DIRECT_ALLOC=1.
  bool direct_allocations = false;
};

// True when the CUDA runtime sees at least one device (tests skip otherwise).
bool device_available();

// Selects the device, reserves the pool, installs the Device::kCuda allocator hook and creates the compute
// stream. Throws dsinfer::Error when there is no device or the pool cannot be reserved.
void initialize(const DeviceOptions& options = {});

DevicePool& device_pool();  // throws when running with direct allocations
const cudaDeviceProp& device_properties();
int multiprocessor_count();
// Whether kernels started through launch_kernel (kernels/common/launch.cuh) may overlap their predecessor
// (programmatic dependent launch); off when the environment sets DSINFER_CUDA_PDL=0.
bool programmatic_launch_enabled();
bool kernel_skipped_for_profiling(const char* name);  // DSINFER_CUDA_SKIP_KERNELS (kernels/common/launch.cuh)

// The stream ops run on: the compute stream made by initialize(), unless this thread set another
// (a capture stream, say) with StreamScope.
cudaStream_t current_stream();

class StreamScope {
 public:
  explicit StreamScope(cudaStream_t stream);
  ~StreamScope();
  StreamScope(const StreamScope&) = delete;
  StreamScope& operator=(const StreamScope&) = delete;

 private:
  cudaStream_t previous_;
};

// Waits for all work queued on the current stream.
void synchronize();

// Copies between host and device tensors of the same dtype and element count, on the current stream,
// and waits for the copy (host memory may be pageable).
Tensor to_device(const Tensor& host);
Tensor to_host(const Tensor& device);
void copy_to_device(const Tensor& host, const Tensor& device);
void copy_to_host(const Tensor& device, const Tensor& host);

}  // namespace dsinfer::cuda
