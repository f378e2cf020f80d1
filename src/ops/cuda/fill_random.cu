// Dummy weights on the GPU: the same counter-based values as the CPU backend (ops/fill_random.h), generated
// where they live, so a 671B-parameter checkpoint shape fills in seconds without touching the host.
#include "ops/cuda/common.cuh"
#include "ops/cuda/cuda_ops.h"
#include "ops/fill_random.h"

namespace dsinfer::ops::cuda {

namespace {
__global__ void fill_random_kernel(void* data, DType dtype, int64_t count, uint64_t seed, float low, float high) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    // Explicit round-to-nearest add and multiply: no fused multiply-add, so values match the CPU's bit for bit.
    float value = __fadd_rn(low, __fmul_rn(high - low, random_unit(seed, static_cast<uint64_t>(i))));
    switch (dtype) {
      case DType::kF32: static_cast<float*>(data)[i] = value; break;
      case DType::kBF16: static_cast<__nv_bfloat16*>(data)[i] = __float2bfloat16_rn(value); break;
      case DType::kF16: static_cast<__half*>(data)[i] = __float2half_rn(value); break;
      default: static_cast<uint8_t*>(data)[i] = dsinfer::cuda::float_to_e4m3(value); break;
    }
  }
}
}  // namespace

void fill_random(Tensor& tensor, uint64_t seed, float low, float high) {
  const DType dtype = tensor.dtype();
  DSINFER_CHECK(dtype == DType::kF32 || dtype == DType::kBF16 || dtype == DType::kF16 || dtype == DType::kF8E4M3,
                "ops::fill_random: cannot fill ", tensor.describe(), " (F32, BF16, F16 or F8_E4M3 only)");
  const int64_t count = tensor.numel();
  if (count == 0) return;
  constexpr int kThreads = 256;
  unsigned blocks = std::min<unsigned>(blocks_for(count, kThreads), 65536u);
  fill_random_kernel<<<blocks, kThreads, 0, dsinfer::cuda::current_stream()>>>(tensor.data(), dtype, count, seed, low,
                                                                               high);
  DSINFER_CUDA_CHECK_LAUNCH("fill_random_kernel");
}

}  // namespace dsinfer::ops::cuda
