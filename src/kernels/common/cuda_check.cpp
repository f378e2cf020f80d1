#include "kernels/common/cuda_check.h"

#include "core/error.h"

namespace dsinfer::cuda {

void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  fail("CUDA error ", cudaGetErrorName(status), " (", cudaGetErrorString(status), ") in ", call, " at ", file, ":",
       line);
}

void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  fail("cuBLAS error ", cublasLtGetStatusName(status), " (", cublasLtGetStatusString(status), ") in ", call, " at ",
       file, ":", line);
}

}  // namespace dsinfer::cuda
