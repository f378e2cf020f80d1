#include <cmath>
#include <vector>

#include "core/thread_pool.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/float_rows.h"
#include "ops/cpu/rms_norm_row.h"

namespace dsinfer::ops::cpu {

void rms_norm(const Tensor& input, const Tensor& weight, double epsilon, Tensor& output) {
  require_f32("rms_norm", input);
  require_f32("rms_norm", output);
  const int64_t width = input.dim(1);
  std::vector<float> gain(static_cast<size_t>(width));
  read_as_float(weight, 0, width, gain.data());
  const float* in = input.data_as<const float>();
  float* out = output.data_as<float>();
  parallel_for(input.dim(0), 64, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) rms_norm_row(in + t * width, gain.data(), width, epsilon, out + t * width);
  });
}

}  // namespace dsinfer::ops::cpu
