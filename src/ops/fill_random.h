// Deterministic random fill for dummy weights (--load-format dummy), identical on every backend so that a
// CPU and a GPU model made from the same seed hold the same values.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace dsinfer::ops {

// splitmix64 (Steele, Lea, Flood 2014): a counter-based generator, so every element is independent of the
// order or the thread it is computed on. constexpr, hence callable from CUDA device code as well.
constexpr uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Uniform in [0, 1) with 24 random bits (exact in float).
constexpr float random_unit(uint64_t seed, uint64_t index) {
  return static_cast<float>(splitmix64(seed + index) >> 40) * (1.0f / 16777216.0f);
}

// Element i (flat index) becomes  low + (high - low) * random_unit(seed, i)  computed in float, then rounded
// to the tensor's dtype (F32, BF16, F16, or F8_E4M3; round-to-nearest-even; keep |low|, |high| <= 448 for F8).
void fill_random(Tensor& tensor, uint64_t seed, float low, float high);

}  // namespace dsinfer::ops
