// quantize_fp8_per_token_group on CUDA: the kernel of kernels/sm90/quant, unpadded.
#include "kernels/sm90/quant/fp8_group_quant.h"
#include "kernels/runtime/op_timing.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/cuda_ops.h"

namespace dsinfer::ops::cuda {

void quantize_fp8_per_token_group(const Tensor& input, Tensor& output, Tensor& scales) {
  dsinfer::cuda::OpTimer timer("quantize_fp8_per_token_group");
  require_dtype("quantize_fp8_per_token_group", input, DType::kBF16);
  require_dtype("quantize_fp8_per_token_group", output, DType::kF8E4M3);
  require_dtype("quantize_fp8_per_token_group", scales, DType::kF32);
  const int64_t tokens = input.dim(0), columns = input.dim(1);
  dsinfer::cuda::quantize_fp8_groups(input.data(), DType::kBF16, columns, output.data(), scales.data_as<float>(), tokens,
                                     tokens,
                                     columns, dsinfer::cuda::current_stream());
}

}  // namespace dsinfer::ops::cuda
