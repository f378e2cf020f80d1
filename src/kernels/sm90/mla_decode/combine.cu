// Split-KV combine: for each (sequence, head) with more than one active split, out = sum_s w_s O_s / sum_s w_s
// with w_s = 2^(lse_s - max lse) (base-2 log-sum-exp merge, as FlashMLA's combine does). One CTA per
// (sequence, head, 128 latent columns), so a batch-1 step spreads over heads * latent / 128 CTAs.
#include "kernels/common/cuda_check.h"
#include "kernels/common/device_math.cuh"
#include "kernels/common/launch.cuh"
#include "kernels/sm90/mla_decode/config.h"
#include "kernels/sm90/mla_decode/launch.h"

namespace dsinfer::cuda::mla_decode {

namespace {

constexpr int kCombineThreads = 128;

template <typename Out>
__global__ void __launch_bounds__(kCombineThreads) mla_decode_combine_kernel(const MlaDecodeParams params) {
  allow_next_kernel();
  wait_for_previous_kernel();
  const int sequence = blockIdx.x, head = blockIdx.y;
  const int column = blockIdx.z * kCombineThreads + threadIdx.x;
  const MlaSplit range = mla_split_range(params.seq_lens[sequence], params.page_size, params.num_splits, 0);
  const int splits = range.active_splits;
  if (splits <= 1) return;  // written directly by the decode kernel
  const int64_t first_part = static_cast<int64_t>(sequence) * params.num_splits * params.num_heads + head;
  __shared__ float weights[kMaxSplits];
  float max_lse = -INFINITY;
  for (int s = 0; s < splits; ++s) max_lse = fmaxf(max_lse, params.partial_lse[first_part + s * params.num_heads]);
  float weight_sum = 0.0f;
  for (int s = 0; s < splits; ++s) weight_sum += exp2f(params.partial_lse[first_part + s * params.num_heads] - max_lse);
  for (int s = threadIdx.x; s < splits; s += kCombineThreads)
    weights[s] = exp2f(params.partial_lse[first_part + s * params.num_heads] - max_lse) / weight_sum;
  __syncthreads();
  if (column >= params.latent_dim) return;
  float accumulated = 0.0f;
  for (int s = 0; s < splits; ++s)
    accumulated += weights[s] * params.partial_out[(first_part + s * params.num_heads) * params.latent_dim + column];
  Out* out = static_cast<Out*>(params.out) + (static_cast<int64_t>(sequence) * params.num_heads + head) * params.latent_dim;
  store_float(out + column, accumulated);
}

}  // namespace

void launch_combine(const MlaDecodeParams& params, cudaStream_t stream) {
  dim3 grid(params.batch, params.num_heads, (params.latent_dim + kCombineThreads - 1) / kCombineThreads);
  if (params.f32) {
    launch_kernel("mla_decode_combine_kernel", mla_decode_combine_kernel<float>, grid, kCombineThreads, 0, stream, params);
  } else {
    launch_kernel("mla_decode_combine_kernel", mla_decode_combine_kernel<__nv_bfloat16>, grid, kCombineThreads, 0, stream,
                  params);
  }
}

}  // namespace dsinfer::cuda::mla_decode
