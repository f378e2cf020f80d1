// The first half of a gated MLP in one op: output = silu(input x gate^T) * (input x up^T), so a backend can
// form the product in the GEMM's epilogue (CUDA, decode-sized inputs) instead of writing gate and up out and
// reading them back. ops::linear(output, down_proj) completes the MLP.
#pragma once

#include "ops/linear.h"

namespace dsinfer::ops {

// input [T, K]; gate, up [I, K] (same dtype); output [T, I]; quantize_activations as ops::linear.
void silu_gated_linear(const Tensor& input, const LinearWeight& gate, const LinearWeight& up, Tensor& output,
                       bool quantize_activations = false);

}  // namespace dsinfer::ops
