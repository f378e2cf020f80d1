#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/float_rows.h"

namespace dsinfer::ops::cpu {

void gather_rows(const Tensor& source, const Tensor& indices, Tensor& output) {
  require_f32("gather_rows", output);
  const int64_t rows = source.dim(0), width = source.dim(1);
  const int32_t* index = indices.data_as<const int32_t>();
  float* out = output.data_as<float>();
  for (int64_t i = 0; i < indices.dim(0); ++i) {
    DSINFER_CHECK(index[i] >= 0 && index[i] < rows, "ops::gather_rows: index ", index[i], " outside [0, ", rows,
                  ") of ", source.describe());
    read_as_float(source, index[i] * width, width, out + i * width);
  }
}

}  // namespace dsinfer::ops::cpu
