// The CPU matmul behind linear, the MoE experts and the MLA kv_b expansion, on raw float rows.
#pragma once

#include <cstdint>

#include "ops/linear.h"

namespace dsinfer::ops::cpu {

// output[t][n] = sum_k input[t][k] * W[n][k] for t < rows, with W dequantized from `weight` block by block
// (FP8: times its weight_scale_inv block). input is [rows, K] and output [rows, N], both dense float rows.
// quantize_activations (FP8 weights only): input rows are first rounded through e4m3 per 1x128 group, the
// W8A8 emulation. Splits N across the thread pool (runs inline when called from a pool thread).
void matmul_weight_transposed(const float* input, int64_t rows, const LinearWeight& weight, float* output,
                              bool quantize_activations);

// Rounds each 128-wide group of each row through e4m3 with the per-group scale max(amax / 448, 1e-10):
// output = fp8(input / scale) * scale. The per-token-group quantization as the W8A8 linear sees it. output may
// be input.
void fake_quantize_fp8_groups(const float* input, int64_t rows, int64_t columns, float* output);

}  // namespace dsinfer::ops::cpu
