#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/float_rows.h"
#include "ops/cpu/rope_pairs.h"

namespace dsinfer::ops::cpu {

void rope(Tensor& x, const Tensor& positions, const Tensor& cos_sin) {
  require_f32("rope", x);
  const int64_t tokens = x.dim(0), heads = x.dim(1), head_dim = x.dim(2), rope_dim = cos_sin.dim(1);
  const int32_t* position = positions.data_as<const int32_t>();
  const float* table = cos_sin.data_as<const float>();
  float* data = x.data_as<float>();
  for (int64_t t = 0; t < tokens; ++t) {
    DSINFER_CHECK(position[t] >= 0 && position[t] < cos_sin.dim(0), "ops::rope: position ", position[t],
                  " outside the rope table of ", cos_sin.dim(0), " positions");
    const float* row = table + position[t] * rope_dim;
    for (int64_t h = 0; h < heads; ++h) rotate_pairs(data + (t * heads + h) * head_dim + head_dim - rope_dim, row, rope_dim);
  }
}

}  // namespace dsinfer::ops::cpu
