// In-place softmax of one row of attention scores.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace dsinfer::ops::cpu {

inline void softmax_row(float* scores, int64_t count) {
  float largest = *std::max_element(scores, scores + count);
  double total = 0.0;
  for (int64_t j = 0; j < count; ++j) total += scores[j] = std::exp(scores[j] - largest);
  float inverse = static_cast<float>(1.0 / total);
  for (int64_t j = 0; j < count; ++j) scores[j] *= inverse;
}

}  // namespace dsinfer::ops::cpu
