#include <cstring>
#include <vector>

#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/float_rows.h"

namespace dsinfer::ops::cpu {

void copy(const Tensor& source, Tensor& destination) {
  if (source.nbytes() > 0) std::memcpy(destination.data(), source.data(), source.nbytes());
}

void cast(const Tensor& source, Tensor& destination) {
  const int64_t count = source.numel();
  if (source.dtype() == destination.dtype()) {
    copy(source, destination);
    return;
  }
  std::vector<float> values(static_cast<size_t>(count));
  read_as_float(source, 0, count, values.data());
  switch (destination.dtype()) {
    case DType::kF32:
      std::memcpy(destination.data(), values.data(), values.size() * sizeof(float));
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < count; ++i) destination.data_as<bf16>()[i] = float_to_bf16(values[i]);
      return;
    case DType::kF16:
      for (int64_t i = 0; i < count; ++i) destination.data_as<uint16_t>()[i] = float_to_f16(values[i]);
      return;
    default:
      fail("ops::cast: cannot convert to ", destination.describe(), " (F32, BF16 or F16 only)");
  }
}

}  // namespace dsinfer::ops::cpu
