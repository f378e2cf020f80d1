// The routed experts' outputs of a MoE layer before their weighted sum. ops::moe_experts may leave the sum to
// the op that next reads the layer's output (ops::add_rms_norm), which adds it while it reads the row anyway:
// one launch fewer on a decode step's chain.
//   sum[t] = sum_j weights[t][j] * rows[slot_positions[t * top_k + j]]   (j ascending; positions < 0 add nothing)
#pragma once

#include "core/tensor.h"

namespace dsinfer::ops {

struct RoutedExpertRows {
  Tensor rows;            // [T * top_k, H] activation dtype: on CUDA the op's scratch, valid until its next call
  Tensor slot_positions;  // [T * top_k] I32: the row of assignment (t, j)
  Tensor weights;         // [T, top_k] F32 routing weights
  bool pending() const { return rows.defined(); }
};

}  // namespace dsinfer::ops
