// argmax_rows on CUDA: one block per row, (value, index) reduced with ties going to the lower index.
#include "kernels/common/launch.cuh"
#include "kernels/runtime/op_timing.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/cuda_ops.h"

namespace dsinfer::ops::cuda {

namespace {
constexpr int kThreads = 512;

__device__ __forceinline__ bool better(float value, int64_t index, float best_value, int64_t best_index) {
  if (isnan(value)) return false;
  if (isnan(best_value)) return true;
  return value > best_value || (value == best_value && index < best_index);
}

__global__ void __launch_bounds__(kThreads) argmax_rows_kernel(const float* logits, int64_t vocab, int32_t* ids) {
  dsinfer::cuda::allow_next_kernel();
  dsinfer::cuda::wait_for_previous_kernel();
  const float* row = logits + static_cast<int64_t>(blockIdx.x) * vocab;
  float best_value = NAN;
  int64_t best_index = 0;
  for (int64_t i = threadIdx.x; i < vocab; i += kThreads) {
    if (better(row[i], i, best_value, best_index)) {
      best_value = row[i];
      best_index = i;
    }
  }
  for (int offset = 16; offset > 0; offset >>= 1) {
    float other_value = __shfl_xor_sync(0xffffffffu, best_value, offset);
    int64_t other_index = __shfl_xor_sync(0xffffffffu, best_index, offset);
    if (better(other_value, other_index, best_value, best_index)) {
      best_value = other_value;
      best_index = other_index;
    }
  }
  __shared__ float values[kThreads / 32];
  __shared__ int64_t indices[kThreads / 32];
  if (threadIdx.x % 32 == 0) {
    values[threadIdx.x / 32] = best_value;
    indices[threadIdx.x / 32] = best_index;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < kThreads / 32; ++w) {
      if (better(values[w], indices[w], best_value, best_index)) {
        best_value = values[w];
        best_index = indices[w];
      }
    }
    ids[blockIdx.x] = static_cast<int32_t>(best_index);
  }
}
}  // namespace

void argmax_rows(const Tensor& logits, Tensor& ids) {
  dsinfer::cuda::OpTimer timer("argmax_rows");
  const int64_t rows = logits.dim(0);
  if (rows == 0) return;
  dsinfer::cuda::launch_kernel("argmax_rows_kernel", argmax_rows_kernel, static_cast<unsigned>(rows), kThreads, 0,
                               dsinfer::cuda::current_stream(), logits.data_as<const float>(), logits.dim(1),
                               ids.data_as<int32_t>());
}

}  // namespace dsinfer::ops::cuda
