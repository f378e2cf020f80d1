// Interleaved-pair rotation of one vector, shared by rope and the MLA cache write.
#pragma once

#include <cstdint>

namespace dsinfer::ops::cpu {

// x[2i], x[2i+1] rotated by angle i of the position's cos_sin row ([rope_dim]: cos half, then sin half).
inline void rotate_pairs(float* x, const float* cos_sin_row, int64_t rope_dim) {
  const int64_t pairs = rope_dim / 2;
  for (int64_t i = 0; i < pairs; ++i) {
    float cosine = cos_sin_row[i], sine = cos_sin_row[pairs + i];
    float a = x[2 * i], b = x[2 * i + 1];
    x[2 * i] = a * cosine - b * sine;
    x[2 * i + 1] = a * sine + b * cosine;
  }
}

}  // namespace dsinfer::ops::cpu
