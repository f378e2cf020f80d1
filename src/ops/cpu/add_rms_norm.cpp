#include <vector>

#include "core/thread_pool.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/float_rows.h"
#include "ops/cpu/rms_norm_row.h"

namespace dsinfer::ops::cpu {

void add_rms_norm(Tensor& residual, const Tensor& addend, const Tensor& weight, double epsilon, Tensor& output) {
  require_f32("add_rms_norm", residual);
  require_f32("add_rms_norm", addend);
  require_f32("add_rms_norm", output);
  const int64_t width = residual.dim(1);
  std::vector<float> gain(static_cast<size_t>(width));
  read_as_float(weight, 0, width, gain.data());
  float* stream = residual.data_as<float>();
  const float* add = addend.data_as<const float>();
  float* out = output.data_as<float>();
  parallel_for(residual.dim(0), 64, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      float* row = stream + t * width;
      for (int64_t i = 0; i < width; ++i) row[i] += add[t * width + i];
      rms_norm_row(row, gain.data(), width, epsilon, out + t * width);
    }
  });
}

}  // namespace dsinfer::ops::cpu
