#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "ops/cpu/cpu_ops.h"
#include "ops/fill_random.h"

namespace dsinfer::ops::cpu {

// The rule of ops/sample_tokens.h. Weights exp(x - max x) and every mass are in double; since the weight grows
// with x, "w >= tau" is "x >= the x of tau", which is how the kept sets are formed here.
void sample_tokens(const Tensor& logits, const Tensor& temperature, const Tensor& top_k, const Tensor& top_p,
                   const Tensor& seeds, Tensor& ids) {
  const int64_t rows = logits.dim(0), vocab = logits.dim(1);
  std::vector<float> x(static_cast<size_t>(vocab)), sorted;
  std::vector<double> weight(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = logits.data_as<const float>() + r * vocab;
    const float t = temperature.data_as<const float>()[r];
    int32_t& chosen = ids.data_as<int32_t>()[r];
    if (!(t > 0.0f)) {  // greedy
      chosen = static_cast<int32_t>(std::max_element(row, row + vocab) - row);
      continue;
    }
    for (int64_t i = 0; i < vocab; ++i) x[i] = row[i] / t;
    const float largest = *std::max_element(x.begin(), x.end());
    for (int64_t i = 0; i < vocab; ++i) weight[i] = std::exp(static_cast<double>(x[i]) - largest);
    float threshold = -INFINITY;  // kept: x >= threshold
    const int32_t k = top_k.data_as<const int32_t>()[r];
    if (k > 0 && k < vocab) {
      sorted = x;
      std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end(), std::greater<float>());
      threshold = sorted[k - 1];  // the k-th largest x
    }
    auto mass_at_or_above = [&](float cut) {
      double mass = 0.0;
      for (int64_t i = 0; i < vocab; ++i)
        if (x[i] >= cut) mass += weight[i];
      return mass;
    };
    const float p = top_p.data_as<const float>()[r];
    if (p < 1.0f) {
      // The largest x cut (>= the top-k threshold) whose mass reaches p * the top-k kept mass: walk the kept
      // values in descending order, equal values together.
      const double goal = p * mass_at_or_above(threshold);
      sorted.clear();
      for (int64_t i = 0; i < vocab; ++i)
        if (x[i] >= threshold) sorted.push_back(x[i]);
      std::sort(sorted.begin(), sorted.end(), std::greater<float>());
      double above = 0.0;
      for (size_t i = 0; i < sorted.size(); ++i) {
        above += std::exp(static_cast<double>(sorted[i]) - largest);
        if ((i + 1 == sorted.size() || sorted[i + 1] != sorted[i]) && above >= goal) {
          threshold = sorted[i];
          break;
        }
      }
    }
    const double target = static_cast<double>(random_unit(seeds.data_as<const uint64_t>()[r], 0)) * mass_at_or_above(threshold);
    double running = 0.0;
    chosen = -1;
    int32_t last_kept = 0;
    for (int64_t i = 0; i < vocab && chosen < 0; ++i) {
      if (x[i] < threshold) continue;
      last_kept = static_cast<int32_t>(i);
      running += weight[i];
      if (running > target) chosen = static_cast<int32_t>(i);
    }
    if (chosen < 0) chosen = last_kept;  // rounding left the target at the very end
  }
}

}  // namespace dsinfer::ops::cpu
