// Two projections of the same input, e.g. q_proj (or q_a_proj) and kv_a_proj_with_mqa of one attention layer:
//   first_output = input x first^T;  second_output = input x second^T
// A backend may run both as one launch (CUDA, decode-sized inputs and weights of one dtype: one pass of the
// skinny GEMM over both weights); the results are those of two ops::linear calls.
#pragma once

#include "ops/linear.h"

namespace dsinfer::ops {

// input [T, K]; first [N0, K], second [N1, K] (any weight dtypes); first_output [T, N0], second_output [T, N1];
// quantize_activations as ops::linear.
void linear_pair(const Tensor& input, const LinearWeight& first, const LinearWeight& second, Tensor& first_output,
                 Tensor& second_output, bool quantize_activations = false);

}  // namespace dsinfer::ops
