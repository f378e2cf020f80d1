// Rotary position embedding on interleaved pairs (DeepSeek's layout: pairs (x[2i], x[2i+1])), applied to
// the last rope_dim elements of each head, in place.
#pragma once

#include "core/tensor.h"

namespace dsinfer::ops {

// x          [T, heads, head_dim] activation dtype; elements [head_dim - rope_dim, head_dim) of every head
//            are rotated: (a, b) -> (a*cos - b*sin, a*sin + b*cos) with pair i using cos_sin[p][i] and
//            cos_sin[p][rope_dim/2 + i], p = positions[t].
// positions  [T] I32, each < cos_sin rows
// cos_sin    [max_positions, rope_dim] F32: cos in the first half, sin in the second, built once per model in
//            float64 (YaRN frequencies, and YaRN's attention mscale folded into both, as the reference does).
void rope(Tensor& x, const Tensor& positions, const Tensor& cos_sin);

}  // namespace dsinfer::ops
