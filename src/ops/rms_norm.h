// RMSNorm (DeepSeek's: weight * x / sqrt(mean(x^2) + eps), statistics in float32).
#pragma once

#include "core/tensor.h"

namespace dsinfer::ops {

// input  [T, D]  activation dtype
// weight [D]     BF16 or F32 (checkpoint dtype)
// output [T, D]  activation dtype; may be the same tensor as input
void rms_norm(const Tensor& input, const Tensor& weight, double epsilon, Tensor& output);

}  // namespace dsinfer::ops
