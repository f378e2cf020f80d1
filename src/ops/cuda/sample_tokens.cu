// sample_tokens on CUDA: one 1024-thread block per row, the rule of ops/sample_tokens.h without sorting. The
// top-k threshold (the k-th largest x) and the top-p cut are found bit by bit over the order-preserving
// 32-bit keys of x: the largest key whose count (top-k) or mass (top-p) at or above it still reaches the goal,
// which is exactly an element's key. Weights exp(x - max x) and masses are doubles, reduced in a fixed order,
// so the draw is the same every run and the same as the CPU twin's.
#include "kernels/runtime/op_timing.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/cuda_ops.h"
#include "ops/fill_random.h"

namespace dsinfer::ops::cuda {

namespace {

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;

// Monotone map of floats onto unsigned integers (larger float, larger key).
__device__ __forceinline__ uint32_t order_key(float value) {
  uint32_t bits = __float_as_uint(value);
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

// Block-wide reductions in a fixed order (warp shuffles, then warp 0 over the warp results): the same result
// every run. `scratch` holds kWarps values; every thread returns the total.
template <typename T, typename Combine>
__device__ T block_reduce(T value, T* scratch, Combine combine) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) value = combine(value, __shfl_xor_sync(0xffffffffu, value, offset));
  __syncthreads();  // scratch may still be read by the previous reduction
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  T total = scratch[0];
  for (int w = 1; w < kWarps; ++w) total = combine(total, scratch[w]);
  return total;
}

__global__ void __launch_bounds__(kThreads)
    sample_tokens_kernel(const float* logits, int64_t vocab, const float* temperature, const int32_t* top_k,
                         const float* top_p, const uint64_t* seeds, int32_t* ids) {
  __shared__ double double_scratch[kWarps];
  __shared__ float float_scratch[kWarps];
  __shared__ int64_t int_scratch[kWarps];
  const int64_t row_index = blockIdx.x;
  const float* row = logits + row_index * vocab;
  const float t = temperature[row_index];
  auto plus_double = [](double a, double b) { return a + b; };
  auto plus_int = [](int64_t a, int64_t b) { return a + b; };

  if (!(t > 0.0f)) {  // greedy: the largest logit, ties to the lower id (as a key: larger value, then smaller id)
    int64_t best = -1;
    float best_value = -INFINITY;
    for (int64_t i = threadIdx.x; i < vocab; i += kThreads)
      if (best < 0 || row[i] > best_value) best_value = row[i], best = i;
    // Pack (value key, inverted id) so one max picks the value, then the lower id.
    uint64_t packed = best < 0 ? 0 : (static_cast<uint64_t>(order_key(best_value)) << 32) | (0xffffffffu - static_cast<uint32_t>(best));
    __shared__ uint64_t packed_scratch[kWarps];
    packed = block_reduce(packed, packed_scratch, [](uint64_t a, uint64_t b) { return a > b ? a : b; });
    if (threadIdx.x == 0) ids[row_index] = static_cast<int32_t>(0xffffffffu - static_cast<uint32_t>(packed & 0xffffffffu));
    return;
  }

  float local_max = -INFINITY;
  for (int64_t i = threadIdx.x; i < vocab; i += kThreads) local_max = fmaxf(local_max, row[i] / t);
  const float largest = block_reduce(local_max, float_scratch, [](float a, float b) { return fmaxf(a, b); });
  auto x_of = [&](int64_t i) { return row[i] / t; };
  auto weight_of = [&](float x) { return exp(static_cast<double>(x) - static_cast<double>(largest)); };
  auto count_at_or_above = [&](uint32_t cut) {
    int64_t count = 0;
    for (int64_t i = threadIdx.x; i < vocab; i += kThreads) count += order_key(x_of(i)) >= cut;
    return block_reduce(count, int_scratch, plus_int);
  };
  auto mass_at_or_above = [&](uint32_t cut) {
    double mass = 0.0;
    for (int64_t i = threadIdx.x; i < vocab; i += kThreads) {
      float x = x_of(i);
      if (order_key(x) >= cut) mass += weight_of(x);
    }
    return block_reduce(mass, double_scratch, plus_double);
  };

  uint32_t cut = 0;  // kept: order_key(x) >= cut
  const int32_t k = top_k[row_index];
  if (k > 0 && k < vocab) {
    for (int bit = 31; bit >= 0; --bit) {
      uint32_t candidate = cut | (1u << bit);
      if (count_at_or_above(candidate) >= k) cut = candidate;
    }
  }
  const float p = top_p[row_index];
  if (p < 1.0f) {
    const double goal = p * mass_at_or_above(cut);
    uint32_t nucleus = 0;
    for (int bit = 31; bit >= 0; --bit) {
      uint32_t candidate = nucleus | (1u << bit);
      if (mass_at_or_above(candidate) >= goal) nucleus = candidate;
    }
    cut = nucleus;
  }

  // Inverse CDF in vocabulary order: thread j owns a contiguous chunk; an exclusive scan of the chunk masses
  // finds the chunk where the running mass passes the target, and its owner walks it.
  const int64_t chunk = (vocab + kThreads - 1) / kThreads;
  const int64_t begin = threadIdx.x * chunk, end = min(begin + chunk, vocab);
  double local = 0.0;
  int64_t last_kept = -1;
  for (int64_t i = begin; i < end; ++i) {
    float x = x_of(i);
    if (order_key(x) >= cut) {
      local += weight_of(x);
      last_kept = i;
    }
  }
  // Exclusive scan of `local` over the block, in a fixed order.
  __shared__ double warp_totals[kWarps];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  double inclusive = local;
#pragma unroll
  for (int offset = 1; offset < 32; offset <<= 1) {
    double other = __shfl_up_sync(0xffffffffu, inclusive, offset);
    if (lane >= offset) inclusive += other;
  }
  if (lane == 31) warp_totals[warp] = inclusive;
  __syncthreads();
  double before_warp = 0.0, total = 0.0;
  for (int w = 0; w < kWarps; ++w) {
    if (w < warp) before_warp += warp_totals[w];
    total += warp_totals[w];
  }
  const double prefix = before_warp + inclusive - local;
  const double target = static_cast<double>(random_unit(seeds[row_index], 0)) * total;
  const int64_t last = block_reduce(last_kept, int_scratch, [](int64_t a, int64_t b) { return a > b ? a : b; });
  if (threadIdx.x == 0) ids[row_index] = static_cast<int32_t>(last);  // if rounding leaves the target at the end
  __syncthreads();
  if (prefix <= target && prefix + local > target) {
    double running = prefix;
    for (int64_t i = begin; i < end; ++i) {
      float x = x_of(i);
      if (order_key(x) < cut) continue;
      running += weight_of(x);
      if (running > target) {
        ids[row_index] = static_cast<int32_t>(i);
        break;
      }
    }
  }
}

}  // namespace

void sample_tokens(const Tensor& logits, const Tensor& temperature, const Tensor& top_k, const Tensor& top_p,
                   const Tensor& seeds, Tensor& ids) {
  dsinfer::cuda::OpTimer timer("sample_tokens");
  const int64_t rows = logits.dim(0);
  if (rows == 0) return;
  sample_tokens_kernel<<<static_cast<unsigned>(rows), kThreads, 0, dsinfer::cuda::current_stream()>>>(
      logits.data_as<const float>(), logits.dim(1), temperature.data_as<const float>(), top_k.data_as<const int32_t>(),
      top_p.data_as<const float>(), seeds.data_as<const uint64_t>(), ids.data_as<int32_t>());
  DSINFER_CUDA_CHECK_LAUNCH("sample_tokens_kernel");
}

}  // namespace dsinfer::ops::cuda
