// GEMMs with F32 activations on the CUDA cores, for the F32-activation mode (ModelRunnerOptions::
// cuda_activation_dtype): products and sums in float32 with no BF16 or TF32 rounding of either operand, so
// the GPU keeps the float32 reference numerics (what the W8A8 fixture needs: any BF16 rounding upstream of
// an e4m3 quantization re-rolls a share of its rounding; see bench/NOTES-cuda.md). Correct first; these
// stream the weights at a fraction of HBM bandwidth.
//
//   C_i[m, n] = sum_k A_i[m, k] * B_i(n, k)          for every batch entry i < batch
//
// A is F32 with contiguous k; B (BF16 or F32) is addressed by two strides, so one kernel serves a linear's
// weight [n, k] (n_stride = k, k_stride = 1) and the per-head W_UK [nope, latent] read as (n = latent,
// k = nope) (n_stride = 1, k_stride = latent). C is F32 or BF16.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.h"

namespace dsinfer::cuda {

struct FloatGemmShape {
  int64_t m = 0, n = 0, k = 0;
  int64_t a_row_stride = 0;                  // elements between rows of A_i
  int64_t b_n_stride = 0, b_k_stride = 0;    // B_i(n, k) = B[i * b_batch_stride + n * b_n_stride + k * b_k_stride]
  int64_t c_row_stride = 0;                  // elements between rows of C_i
  int64_t a_batch_stride = 0, b_batch_stride = 0, c_batch_stride = 0;
  int batch = 1;
};

void gemm_float(const FloatGemmShape& shape, const float* a, const void* b, DType b_dtype, void* c, DType c_dtype,
                cudaStream_t stream);

// The common case: out[m, n] = a[m, k] . weight[n, k]^T, row-major and contiguous.
void gemm_float_linear(const float* a, const void* weight, DType weight_dtype, void* out, DType out_dtype, int64_t m,
                       int64_t n, int64_t k, cudaStream_t stream);

}  // namespace dsinfer::cuda
