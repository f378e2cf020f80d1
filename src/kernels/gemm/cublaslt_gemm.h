// GEMMs through cuBLASLt, row-major in the model's terms: out[m, n] = a[m, k] · weight[n, k]^T.
// (In cuBLAS's column-major terms this is the "TN" call D[n, m] = W^T · A with W as operand A.)
// Plans (descriptors + the heuristic's algorithm) are cached per shape, and the workspace comes from the
// device pool once, so a call allocates nothing and can be captured in a CUDA graph.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.h"

namespace dsinfer::cuda {

// BF16 x BF16 with FP32 accumulation; out_dtype is kBF16 or kF32 (router and lm_head logits).
void gemm_bf16(const void* a, const void* weight, void* out, DType out_dtype, int64_t m, int64_t n, int64_t k,
               cudaStream_t stream);

// DeepSeek's block-scaled FP8 (e4m3) GEMM with BF16 output and FP32 accumulation:
//   a        [m, k] e4m3, a_scales [ceil(k/128)][m] float (1x128 groups along k, "VEC128", k-block-major)
//   weight   [n, k] e4m3, weight_scales [ceil(n/128)][round_up(ceil(k/128), 4)] float ("BLK128x128": the
//            checkpoint's weight_scale_inv with each row padded to a multiple of 4 blocks)
// cuBLASLt accepts only m % 4 == 0 here (pad the token rows). Returns false, doing nothing, when cuBLASLt
// has no algorithm for the shape (the caller then uses the hand-written kernel); throws on real errors.
bool gemm_fp8_blockwise(const void* a, const float* a_scales, const void* weight, const float* weight_scales,
                        void* out, int64_t m, int64_t n, int64_t k, cudaStream_t stream);

// A strided-batched BF16 GEMM in cuBLAS's own column-major terms, for the per-head products of MLA
// (absorbing W_UK into the query, applying W_UV to the latent output): for i < batch,
//   C_i (m x n, ldc) = op(A_i) (m x k) * op(B_i) (k x n),  X_i = X + i * stride_x,  FP32 accumulation.
struct BatchedGemmShape {
  bool transpose_a = false;
  bool transpose_b = false;
  int64_t m = 0, n = 0, k = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  int batch = 1;
};
void gemm_bf16_batched(const BatchedGemmShape& shape, const void* a, const void* b, void* c, cudaStream_t stream);

// Row length of weight_scales as gemm_fp8_blockwise wants it.
inline int64_t fp8_weight_scale_row_length(int64_t k) { return ((k + 127) / 128 + 3) / 4 * 4; }

}  // namespace dsinfer::cuda
