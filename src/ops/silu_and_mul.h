// The gated MLP activation: output = silu(gate) * up, silu(g) = g / (1 + exp(-g)).
#pragma once

#include "core/tensor.h"

namespace dsinfer::ops {

// gate, up, output  [T, I]  activation dtype; output may alias gate or up
void silu_and_mul(const Tensor& gate, const Tensor& up, Tensor& output);

}  // namespace dsinfer::ops
