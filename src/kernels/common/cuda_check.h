// Error checking for CUDA runtime, cuBLAS(Lt) and NCCL calls. A failed call throws dsinfer::Error naming the
// call as written, the source location and the library's own error name, so a user can tell an out-of-memory
// from a launch failure without a debugger.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

namespace dsinfer::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line);

inline void check_cuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess) throw_cuda_error(status, call, file, line);
}
inline void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) throw_cublas_error(status, call, file, line);
}

}  // namespace dsinfer::cuda

#define DSINFER_CUDA_CHECK(call) ::dsinfer::cuda::check_cuda((call), #call, __FILE__, __LINE__)
#define DSINFER_CUBLAS_CHECK(call) ::dsinfer::cuda::check_cublas((call), #call, __FILE__, __LINE__)
// After a kernel launch: reports a bad configuration (grid, shared memory) at the launch site.
#define DSINFER_CUDA_CHECK_LAUNCH(kernel_name) \
  ::dsinfer::cuda::check_cuda(cudaGetLastError(), "launch of " kernel_name, __FILE__, __LINE__)
