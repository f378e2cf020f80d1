#include "ops/rope.h"

#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cuda/cuda_ops.h"
#include "ops/dispatch.h"

namespace dsinfer::ops {

void rope(Tensor& x, const Tensor& positions, const Tensor& cos_sin) {
  DSINFER_CHECK(x.rank() == 3, "ops::rope: x must be [T, heads, head_dim], got ", x.describe());
  DSINFER_CHECK(positions.dtype() == DType::kI32 && positions.shape() == Shape({x.dim(0)}),
                "ops::rope: positions must be I32 [", x.dim(0), "], got ", positions.describe());
  DSINFER_CHECK(cos_sin.rank() == 2 && cos_sin.dtype() == DType::kF32 && cos_sin.dim(1) % 2 == 0 &&
                    cos_sin.dim(1) <= x.dim(2),
                "ops::rope: cos_sin must be F32 [max_positions, rope_dim <= head_dim], got ", cos_sin.describe());
  if (common_device("rope", {&x, &positions, &cos_sin}) == Device::kCpu) {
    cpu::rope(x, positions, cos_sin);
  } else {
    cuda::rope(x, positions, cos_sin);
  }
}

}  // namespace dsinfer::ops
