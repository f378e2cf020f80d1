// Kernel launches with programmatic dependent launch (PDL, sm_90): a kernel started through launch_kernel may
// be scheduled while the kernel before it on the stream is still running, which hides most of the launch gap
// between the short kernels of a decode step (CUDA graphs keep these programmatic edges when captured).
// Contract of every kernel launched this way: it calls wait_for_previous_kernel() before its first access to
// device memory that earlier work writes or reads (first thing, in this code base), and then
// allow_next_kernel(), which lets its successor be scheduled early (the successor still waits for this kernel
// to complete, memory flushed, before its own first access). DSINFER_CUDA_PDL=0 in the environment launches
// everything the ordinary way.
#pragma once

#include <cuda_runtime.h>

#include <utility>

#include "kernels/common/cuda_check.h"

namespace dsinfer::cuda {

bool programmatic_launch_enabled();  // false when DSINFER_CUDA_PDL=0 (read once; kernels/runtime/device.cpp)

__device__ __forceinline__ void wait_for_previous_kernel() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void allow_next_kernel() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

// kernel<<<grid, block, shared_bytes, stream>>>(arguments...) with the programmatic-serialization attribute;
// `name` (a string literal) names the kernel in the error a failed launch throws.
template <typename... Parameters, typename... Arguments>
void launch_kernel(const char* name, void (*kernel)(Parameters...), dim3 grid, dim3 block, size_t shared_bytes,
                   cudaStream_t stream, Arguments&&... arguments) {
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = programmatic_launch_enabled() ? 1 : 0;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared_bytes;
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = 1;
  check_cuda(cudaLaunchKernelEx(&config, kernel, std::forward<Arguments>(arguments)...), name, __FILE__, __LINE__);
}

}  // namespace dsinfer::cuda
