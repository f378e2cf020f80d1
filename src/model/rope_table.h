// The rotary table every rope application reads: YaRN frequencies (DeepSeek's, as in the reference) computed
// once in float64, with YaRN's attention mscale folded into cos and sin.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "model/config.h"

namespace dsinfer {

// [max_positions, qk_rope_head_dim] F32 on the CPU: row p = cos(p * f_i) * m for i < rope/2, then
// sin(p * f_i) * m, where f_i are the YaRN-blended inverse frequencies and
// m = yarn_mscale(factor, mscale) / yarn_mscale(factor, mscale_all_dim) (1 without YaRN).
Tensor build_rope_table(const ModelConfig& config, int64_t max_positions);

}  // namespace dsinfer
