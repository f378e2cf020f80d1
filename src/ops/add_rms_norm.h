// Fused residual add + RMSNorm, the seam between sub-layers:
//   residual += addend;  output = rms_norm(residual) * weight
#pragma once

#include "core/tensor.h"

namespace dsinfer::ops {

// residual [T, D]  activation dtype, updated in place (the residual stream)
// addend   [T, D]  activation dtype (the attention or MLP output)
// weight   [D]     BF16 or F32
// output   [T, D]  activation dtype, distinct from residual and addend
void add_rms_norm(Tensor& residual, const Tensor& addend, const Tensor& weight, double epsilon, Tensor& output);

}  // namespace dsinfer::ops
