// Fused residual add + RMSNorm, the seam between sub-layers:
//   residual += addend;  output = rms_norm(residual) * weight
#pragma once

#include "core/tensor.h"
#include "ops/routed_expert_rows.h"

namespace dsinfer::ops {

// residual [T, D]  activation dtype, updated in place (the residual stream)
// addend   [T, D]  activation dtype (the attention or MLP output)
// weight   [D]     BF16 or F32
// output   [T, D]  activation dtype, distinct from residual and addend
void add_rms_norm(Tensor& residual, const Tensor& addend, const Tensor& weight, double epsilon, Tensor& output);

// The same with a MoE layer's routed sum left pending by ops::moe_experts added too (nothing when it is not
// pending): residual += addend + sum_j weights[t][j] * rows[slot_positions[t * top_k + j]], in that order, in
// float32. expert_rows.rows [T * top_k, D] has the activation dtype.
void add_rms_norm(Tensor& residual, const Tensor& addend, const RoutedExpertRows& expert_rows, const Tensor& weight,
                  double epsilon, Tensor& output);

}  // namespace dsinfer::ops
