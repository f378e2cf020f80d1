// Per-token-group FP8 quantization of activations (DeepSeek / SGLang "W8A8 dynamic", 1 x 128 groups).
#pragma once

#include "core/tensor.h"

namespace dsinfer::ops {

constexpr int kFp8ActivationGroup = 128;  // K elements sharing one activation scale
constexpr float kFp8E4M3Max = 448.0f;
constexpr float kFp8MinScale = 1e-10f;  // floor of amax / 448, so an all-zero group does not divide by zero

// input   [T, K]  activation dtype
// output  [T, K]  F8_E4M3: round_to_nearest_even(input / scale), saturated to +-448
// scales  [ceil(K / 128), T] F32, K-block-major (the layout cuBLASLt's VEC128 scale and DeepGEMM's MN-major
//         scale expect): scales[g][t] = max(amax(|input[t, 128g : 128g + 128]|) / 448, 1e-10). (The CPU
//         backend divides by the scale in double, as the float64 reference does; a float32 scale may round
//         an element that sits within one ulp of an e4m3 midpoint the other way.)
//         The last group is partial when K is not a multiple of 128; its amax covers only real elements.
// input[t][k] is approximately fp8(output[t][k]) * scales[k / 128][t].
void quantize_fp8_per_token_group(const Tensor& input, Tensor& output, Tensor& scales);

}  // namespace dsinfer::ops
