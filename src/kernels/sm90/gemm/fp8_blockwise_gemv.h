// Block-scaled FP8 GEMM for few token rows (decode) and for shapes cuBLASLt rejects (m % 4 != 0, partial
// 128-blocks): out[m, n] (BF16) = sum over 128-blocks kb of a_scale[kb][row] * w_scale[n / 128][kb] *
// (a_q[row, block] . w_q[n, block]). Same scale layouts as gemm_fp8_blockwise. Each warp streams one
// weight row once for up to kRowsPerPass token rows, so for m <= 8 it reads the weights exactly once.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace dsinfer::cuda {

// a [m, k] e4m3, a_scales[kb * a_scales_stride + row]; weight [n, k] e4m3,
// weight_scales[(col / 128) * weight_scales_row_length + kb]; out [m, n] BF16. k % 16 == 0.
void gemm_fp8_blockwise_gemv(const void* a, const float* a_scales, int64_t a_scales_stride, const void* weight,
                             const float* weight_scales, int64_t weight_scales_row_length, void* out, int64_t m,
                             int64_t n, int64_t k, cudaStream_t stream);

}  // namespace dsinfer::cuda
