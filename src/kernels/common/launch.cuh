// Kernel launches with programmatic dependent launch (PDL, sm_90): a kernel started through launch_kernel may
// be scheduled while the kernel before it on the stream is still running, which hides most of the launch gap
// between the short kernels of a decode step (CUDA graphs keep these programmatic edges when captured).
// Contract of every kernel launched this way: it calls allow_next_kernel() on entry, which lets its successor be
// scheduled as soon as every CTA of this kernel has started, and wait_for_previous_kernel() before its first
// access to device memory that earlier work writes or reads. The wait returns only once the predecessor has
// completed with its memory flushed, and the predecessor waited for its own predecessor, so the chain stays
// ordered; what a kernel may do between the two calls is read memory no kernel writes during a step (weights:
// the skinny GEMM prefetches them there). DSINFER_CUDA_PDL=0 in the environment launches everything the
// ordinary way.
#pragma once

#include <cuda_runtime.h>

#include <utility>

#include "kernels/common/cuda_check.h"

namespace dsinfer::cuda {

bool programmatic_launch_enabled();  // false when DSINFER_CUDA_PDL=0 (read once; kernels/runtime/device.cpp)

// Profiling aid: true for the kernel names (or name prefixes) listed in DSINFER_CUDA_SKIP_KERNELS (comma-separated).
// A skipped launch does nothing, so a step's time with and without a kernel class gives that class's share of a
// CUDA-graph step (no profiler sees inside graph replays here). Results are wrong while anything is skipped:
// benchmarks only.
bool kernel_skipped_for_profiling(const char* name);

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
  if (kernel_skipped_for_profiling(name)) return;
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
