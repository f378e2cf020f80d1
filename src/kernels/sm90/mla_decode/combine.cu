// Split-KV combine: for each (sequence, head) with more than one active split,
// out = sum_s w_s O_s / sum_s w_s with w_s = 2^(lse_s - max lse) (base-2 log-sum-exp merge, as FlashMLA's does).
//
// Latency decides its cost, not bandwidth (a batch-1 step of 16 heads over 16 splits reads 512 KB), so it
// makes two dependent trips to memory and no more: seq_lens (which gives the active split count), then every
// other load at once. Each lane of every warp loads one split's lse (splits lane and lane + 32), each thread
// loads its column of every active split's partial output into registers (unrolled, predicated loads), the
// warp reduces the lse with shuffles and the thread sums its column in split order, so the result does not
// depend on timing. One CTA per (sequence, head, 128 latent columns) and one column per thread: a batch-1
// step of 16 heads spreads over 64 CTAs. Every warp repeats the small lse reduction instead of sharing it
// through shared memory, which saves a __syncthreads.
#include "kernels/common/cuda_check.h"
#include "kernels/common/device_math.cuh"
#include "kernels/common/launch.cuh"
#include "kernels/sm90/mla_decode/config.h"
#include "kernels/sm90/mla_decode/launch.h"

namespace dsinfer::cuda::mla_decode {

namespace {

constexpr int kCombineThreads = 128;

// kSplitBound >= params.num_splits: registers for that many partial values per thread, so a large batch (few
// splits) does not pay for kMaxSplits.
template <typename Out, int kSplitBound>
__global__ void __launch_bounds__(kCombineThreads) mla_decode_combine_kernel(const MlaDecodeParams params) {
  static_assert(kSplitBound <= kMaxSplits, "the workspace holds at most kMaxSplits parts");
  constexpr int kLsePerLane = (kSplitBound + 31) / 32;
  allow_next_kernel();
  wait_for_previous_kernel();
  const int sequence = blockIdx.x, head = blockIdx.y, lane = threadIdx.x % 32;
  const int column = blockIdx.z * kCombineThreads + threadIdx.x;
  const int splits =
      mla_split_range(params.seq_lens[sequence], params.page_size, params.num_splits, 0).active_splits;
  if (splits <= 1) return;  // written directly by the decode kernel (uniform over the CTA)
  const bool column_valid = column < params.latent_dim;

  // Part (sequence, split, head) is partial_lse[part] and partial_out[part * latent_dim ...], with
  // part = (sequence * num_splits + split) * num_heads + head.
  const int64_t first_part = static_cast<int64_t>(sequence) * params.num_splits * params.num_heads + head;
  const float* split_lse = params.partial_lse + first_part;  // stride num_heads
  const float* split_values = params.partial_out + first_part * params.latent_dim + column;  // stride below
  const int64_t value_stride = static_cast<int64_t>(params.num_heads) * params.latent_dim;

  // All loads first, none depending on another; inactive splits are never read (their slots hold stale data).
  float lse[kLsePerLane];
#pragma unroll
  for (int i = 0; i < kLsePerLane; ++i) {
    const int split = lane + 32 * i;
    lse[i] = split < splits ? split_lse[split * params.num_heads] : -INFINITY;
  }
  float values[kSplitBound];
#pragma unroll
  for (int split = 0; split < kSplitBound; ++split)
    values[split] = split < splits && column_valid ? split_values[split * value_stride] : 0.0f;

  float max_lse = -INFINITY;
#pragma unroll
  for (int i = 0; i < kLsePerLane; ++i) max_lse = fmaxf(max_lse, lse[i]);
  max_lse = warp_max(max_lse);
  float weights[kLsePerLane];  // weight of split lane + 32 i; 0 for inactive splits
  float weight_sum = 0.0f;
#pragma unroll
  for (int i = 0; i < kLsePerLane; ++i) {
    weights[i] = exp2f(lse[i] - max_lse);
    weight_sum += weights[i];
  }
  weight_sum = warp_sum(weight_sum);

  float accumulated = 0.0f;
#pragma unroll
  for (int split = 0; split < kSplitBound; ++split) {
    if (split >= splits) break;  // uniform over the warp, so every lane takes part in the shuffle
    accumulated += __shfl_sync(0xffffffffu, weights[split / 32], split % 32) * values[split];
  }
  if (!column_valid) return;
  Out* out = static_cast<Out*>(params.out) +
             (static_cast<int64_t>(sequence) * params.num_heads + head) * params.latent_dim;
  store_float(out + column, accumulated / weight_sum);
}

template <typename Out, int kSplitBound>
void launch_with_bound(const MlaDecodeParams& params, dim3 grid, cudaStream_t stream) {
  launch_kernel("mla_decode_combine_kernel", mla_decode_combine_kernel<Out, kSplitBound>, grid,
                kCombineThreads, 0, stream, params);
}

// The smallest bound of 8, 16, 32, 64 that holds num_splits (run_mla_decode checks num_splits <= kMaxSplits).
template <typename Out>
void launch_for_output(const MlaDecodeParams& params, dim3 grid, cudaStream_t stream) {
  static_assert(kMaxSplits == 64, "the bounds below end at kMaxSplits");
  if (params.num_splits <= 8)
    launch_with_bound<Out, 8>(params, grid, stream);
  else if (params.num_splits <= 16)
    launch_with_bound<Out, 16>(params, grid, stream);
  else if (params.num_splits <= 32)
    launch_with_bound<Out, 32>(params, grid, stream);
  else
    launch_with_bound<Out, 64>(params, grid, stream);
}

}  // namespace

void launch_combine(const MlaDecodeParams& params, cudaStream_t stream) {
  dim3 grid(params.batch, params.num_heads, (params.latent_dim + kCombineThreads - 1) / kCombineThreads);
  if (params.f32)
    launch_for_output<float>(params, grid, stream);
  else
    launch_for_output<__nv_bfloat16>(params, grid, stream);
}

}  // namespace dsinfer::cuda::mla_decode
