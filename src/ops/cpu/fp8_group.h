// One 1x128 activation group quantized to e4m3: the single definition both the quantize op and the W8A8
// emulation inside the CPU matmul use.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/dtype.h"
#include "ops/quantize_fp8.h"

namespace dsinfer::ops::cpu {

// codes[i] = e4m3(values[i] / scale), round-to-nearest-even; returns scale = max(amax / 448, 1e-10).
// The scale and the division are in double, as the float64 reference does them: with a float32 scale, every
// element of the group moves by up to one float32 ulp, enough to round a few elements per thousand tokens the
// other way (seen on the FP8 fixture as whole sequences leaving logits_w8a8 at one position).
inline double quantize_fp8_group(const float* values, int64_t count, uint8_t* codes) {
  float amax = 0.0f;
  for (int64_t i = 0; i < count; ++i) amax = std::max(amax, std::fabs(values[i]));
  double scale = std::max(static_cast<double>(amax) / kFp8E4M3Max, static_cast<double>(kFp8MinScale));
  for (int64_t i = 0; i < count; ++i) codes[i] = float_to_fp8_e4m3(static_cast<float>(values[i] / scale)).bits;
  return scale;
}

}  // namespace dsinfer::ops::cpu
