#include "core/error.h"
#include "core/thread_pool.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/fill_random.h"

namespace dsinfer::ops::cpu {

void fill_random(Tensor& tensor, uint64_t seed, float low, float high) {
  const DType dtype = tensor.dtype();
  DSINFER_CHECK(dtype == DType::kF32 || dtype == DType::kBF16 || dtype == DType::kF16 || dtype == DType::kF8E4M3,
                "ops::fill_random: cannot fill ", tensor.describe(), " (F32, BF16, F16 or F8_E4M3 only)");
  void* data = tensor.data();
  parallel_for(tensor.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float value = low + (high - low) * random_unit(seed, static_cast<uint64_t>(i));
      switch (dtype) {
        case DType::kF32: static_cast<float*>(data)[i] = value; break;
        case DType::kBF16: static_cast<bf16*>(data)[i] = float_to_bf16(value); break;
        case DType::kF16: static_cast<uint16_t*>(data)[i] = float_to_f16(value); break;
        default: static_cast<fp8_e4m3*>(data)[i] = float_to_fp8_e4m3(value); break;
      }
    }
  });
}

}  // namespace dsinfer::ops::cpu
