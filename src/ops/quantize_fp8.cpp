#include "ops/quantize_fp8.h"

#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cuda/cuda_ops.h"
#include "ops/dispatch.h"

namespace dsinfer::ops {

void quantize_fp8_per_token_group(const Tensor& input, Tensor& output, Tensor& scales) {
  DSINFER_CHECK(input.rank() == 2, "ops::quantize_fp8_per_token_group: input must be [T, K], got ", input.describe());
  int64_t tokens = input.dim(0), groups = (input.dim(1) + kFp8ActivationGroup - 1) / kFp8ActivationGroup;
  DSINFER_CHECK(output.dtype() == DType::kF8E4M3 && output.shape() == input.shape(),
                "ops::quantize_fp8_per_token_group: output must be F8_E4M3 ", shape_to_string(input.shape()),
                ", got ", output.describe());
  DSINFER_CHECK(scales.dtype() == DType::kF32 && scales.shape() == Shape({groups, tokens}),
                "ops::quantize_fp8_per_token_group: scales must be F32 [", groups, ", ", tokens, "], got ",
                scales.describe());
  if (common_device("quantize_fp8_per_token_group", {&input, &output, &scales}) == Device::kCpu) {
    cpu::quantize_fp8_per_token_group(input, output, scales);
  } else {
    cuda::quantize_fp8_per_token_group(input, output, scales);
  }
}

}  // namespace dsinfer::ops
