// Block-scaled FP8 GEMM for decode-sized token counts (1 to 8 rows): out[m, n] (BF16) = sum over 128-blocks kb
// of a_scale[kb][row] * w_scale[n / 128][kb] * (a_q[row, block] . w_q[n, block]), on the tensor cores with the
// weights as the 16-row operand. Reads each weight byte once; any n, k % 16 == 0 (partial blocks included).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace dsinfer::cuda {

// a [m, k] e4m3, a_scales[kb * a_scales_stride + row]; weight [n, k] e4m3,
// weight_scales[(col / 128) * weight_scales_row_length + kb]; out [m, n] BF16.
void gemm_fp8_blockwise_skinny(const void* a, const float* a_scales, int64_t a_scales_stride, const void* weight,
                               const float* weight_scales, int64_t weight_scales_row_length, void* out, int64_t m,
                               int64_t n, int64_t k, cudaStream_t stream);

}  // namespace dsinfer::cuda
