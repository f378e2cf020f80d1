#include <algorithm>

#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/float_rows.h"
#include "ops/cpu/fp8_group.h"

namespace dsinfer::ops::cpu {

void quantize_fp8_per_token_group(const Tensor& input, Tensor& output, Tensor& scales) {
  require_f32("quantize_fp8_per_token_group", input);
  const int64_t tokens = input.dim(0), columns = input.dim(1);
  const float* in = input.data_as<const float>();
  uint8_t* codes = output.data_as<uint8_t>();
  float* group_scales = scales.data_as<float>();  // [groups, tokens]
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t group = 0, begin = 0; begin < columns; ++group, begin += kFp8ActivationGroup) {
      int64_t count = std::min<int64_t>(kFp8ActivationGroup, columns - begin);
      group_scales[group * tokens + t] =
          static_cast<float>(quantize_fp8_group(in + t * columns + begin, count, codes + t * columns + begin));
    }
  }
}

}  // namespace dsinfer::ops::cpu
