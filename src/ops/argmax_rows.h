// argmax_rows: greedy decoding on the model's device, so only the chosen token ids cross to the host.
#pragma once

#include "core/tensor.h"

namespace dsinfer::ops {

// logits [R, V] F32 -> ids [R] I32: the index of each row's largest value (ties: the lower index; NaN is never
// chosen over a number).
void argmax_rows(const Tensor& logits, Tensor& ids);

}  // namespace dsinfer::ops
