// Per-token-group (1 x 128) FP8 quantization of BF16 activations, DeepSeek's W8A8 recipe (and the CPU
// backend's): for each row and each group of 128 columns, scale = max(amax / 448, 1e-10) and
// q = e4m3(x / scale), round to nearest even, saturating (scale and quotient in double, as the CPU twin
// computes them). The scales are written k-block-major,
// scales[group][row], which is the VEC128 layout gemm_fp8_blockwise wants.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.h"

namespace dsinfer::cuda {

// input  [m, k] BF16 or F32 (input_dtype), rows input_row_stride elements apart (a multiple of 4)
// output [padded_m, k] e4m3; rows m .. padded_m-1 become zeros with scale 1 (GEMM padding rows)
// scales [ceil(k / 128)][padded_m] float
// k must be a multiple of 4 (the linear layers need 16 anyway).
void quantize_fp8_groups(const void* input, DType input_dtype, int64_t input_row_stride, void* output, float* scales,
                         int64_t m, int64_t padded_m, int64_t k, cudaStream_t stream);

}  // namespace dsinfer::cuda
