// GEMMs for decode-sized token counts (1 to 8 rows) on the tensor cores with the weights as the 16-row operand,
// reading each weight byte once: block-scaled FP8, out[m, n] (BF16) = sum over 128-blocks kb of
// a_scale[kb][row] * w_scale[n / 128][kb] * (a_q[row, block] . w_q[n, block]); and BF16, out = a . weight^T
// (BF16 or F32 out). Any n; rows of 16-byte multiples (partial scale blocks included).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.h"

namespace dsinfer::cuda {

constexpr int64_t kSkinnyMaxRows = 8;  // the mma's n: token rows per call

// a [m, k] e4m3, a_scales[kb * a_scales_stride + row]; weight [n, k] e4m3,
// weight_scales[(col / 128) * weight_scales_row_length + kb]; out [m, n] BF16.
void gemm_fp8_blockwise_skinny(const void* a, const float* a_scales, int64_t a_scales_stride, const void* weight,
                               const float* weight_scales, int64_t weight_scales_row_length, void* out, int64_t m,
                               int64_t n, int64_t k, cudaStream_t stream);

// a [m, k] BF16, weight [n, k] BF16, out [m, n] BF16 or F32 (out_dtype); k % 8 == 0.
void gemm_bf16_skinny(const void* a, const void* weight, void* out, DType out_dtype, int64_t m, int64_t n, int64_t k,
                      cudaStream_t stream);

}  // namespace dsinfer::cuda
