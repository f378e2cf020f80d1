#include <cmath>

#include "ops/cpu/cpu_ops.h"

namespace dsinfer::ops::cpu {

void argmax_rows(const Tensor& logits, Tensor& ids) {
  const int64_t rows = logits.dim(0), vocab = logits.dim(1);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = logits.data_as<const float>() + r * vocab;
    int64_t best = 0;
    for (int64_t i = 1; i < vocab; ++i)
      if (row[i] > row[best] || (std::isnan(row[best]) && !std::isnan(row[i]))) best = i;
    ids.data_as<int32_t>()[r] = static_cast<int32_t>(best);
  }
}

}  // namespace dsinfer::ops::cpu
