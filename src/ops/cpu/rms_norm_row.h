// RMSNorm of one row, shared by rms_norm, add_rms_norm and the MLA cache write.
#pragma once

#include <cmath>
#include <cstdint>

namespace dsinfer::ops::cpu {

// out[i] = gain[i] * in[i] / sqrt(mean(in^2) + epsilon); the mean is accumulated in double. out may be in.
inline void rms_norm_row(const float* in, const float* gain, int64_t width, double epsilon, float* out) {
  double sum_squares = 0.0;
  for (int64_t i = 0; i < width; ++i) sum_squares += static_cast<double>(in[i]) * in[i];
  double inverse_rms = 1.0 / std::sqrt(sum_squares / static_cast<double>(width) + epsilon);
  for (int64_t i = 0; i < width; ++i) out[i] = static_cast<float>(gain[i] * (in[i] * inverse_rms));
}

}  // namespace dsinfer::ops::cpu
