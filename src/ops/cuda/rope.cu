// rope on interleaved pairs, in place, and silu_and_mul.
#include "kernels/common/launch.cuh"
#include "kernels/runtime/op_timing.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/cuda_ops.h"

namespace dsinfer::ops::cuda {

namespace {
// One block per token; thread i rotates pair i % pairs of head i / pairs.
__global__ void rope_kernel(void* x, FloatKind kind, int64_t heads, int64_t head_dim, int64_t rope_dim,
                            const int32_t* positions, const float* cos_sin, int64_t max_positions) {
  dsinfer::cuda::allow_next_kernel();
  dsinfer::cuda::wait_for_previous_kernel();
  const int64_t token = blockIdx.x, pairs = rope_dim / 2;
  const int32_t position = positions[token];
  const bool valid = position >= 0 && position < max_positions;
  const float* angles = cos_sin + static_cast<int64_t>(valid ? position : 0) * rope_dim;
  for (int64_t i = threadIdx.x; i < heads * pairs; i += blockDim.x) {
    int64_t head = i / pairs, pair = i % pairs;
    int64_t base = (token * heads + head) * head_dim + head_dim - rope_dim + 2 * pair;
    float a = load_as_float(x, kind, base), b = load_as_float(x, kind, base + 1);
    float cosine = valid ? angles[pair] : NAN, sine = valid ? angles[pairs + pair] : NAN;
    store_from_float(x, kind, base, a * cosine - b * sine);
    store_from_float(x, kind, base + 1, a * sine + b * cosine);
  }
}

__global__ void silu_and_mul_kernel(const void* gate, const void* up, void* output, FloatKind kind, int64_t count) {
  dsinfer::cuda::allow_next_kernel();
  dsinfer::cuda::wait_for_previous_kernel();
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float g = load_as_float(gate, kind, i), u = load_as_float(up, kind, i);
    store_from_float(output, kind, i, g / (1.0f + __expf(-g)) * u);
  }
}
}  // namespace

void rope(Tensor& x, const Tensor& positions, const Tensor& cos_sin) {
  dsinfer::cuda::OpTimer timer("rope");
  require_float_dtype("rope", x);
  require_dtype("rope", cos_sin, DType::kF32);
  const int64_t tokens = x.dim(0);
  if (tokens == 0) return;
  dsinfer::cuda::launch_kernel("rope_kernel", rope_kernel, static_cast<unsigned>(tokens), 256, 0,
                               dsinfer::cuda::current_stream(), x.data(), float_kind(x), x.dim(1), x.dim(2),
                               cos_sin.dim(1), positions.data_as<const int32_t>(), cos_sin.data_as<const float>(),
                               cos_sin.dim(0));
}

void silu_and_mul(const Tensor& gate, const Tensor& up, Tensor& output) {
  dsinfer::cuda::OpTimer timer("silu_and_mul");
  require_float_dtype("silu_and_mul", gate);
  DSINFER_CHECK(up.dtype() == gate.dtype() && output.dtype() == gate.dtype(),
                "ops::silu_and_mul on CUDA: gate, up and output must share a dtype");
  const int64_t count = gate.numel();
  if (count == 0) return;
  constexpr int kThreads = 256;
  unsigned blocks = std::min<unsigned>(blocks_for(count, kThreads), 65536u);
  dsinfer::cuda::launch_kernel("silu_and_mul_kernel", silu_and_mul_kernel, blocks, kThreads, 0,
                               dsinfer::cuda::current_stream(), gate.data(), up.data(), output.data(), float_kind(gate),
                               count);
}

}  // namespace dsinfer::ops::cuda
