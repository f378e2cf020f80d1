#include "kernels/sm90/moe/moe_sort.h"

#include <cuda_bf16.h>

#include "core/error.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/launch.cuh"
#include "kernels/sm90/moe/moe_sort.cuh"

namespace dsinfer::cuda {

namespace {

constexpr int kSortThreads = 1024;
constexpr int kMaxExperts = kSortThreads;  // thread e owns expert e in the scan

// One CTA of kSortThreads: count per expert in shared memory, a parallel scan over the experts, then scatter
// with per-expert cursors (moe_sort.cuh). Global memory is read only after the previous kernel's wait.
__global__ void __launch_bounds__(kSortThreads)
    moe_sort_kernel(const int32_t* topk_ids, int64_t assignments, int experts, int rows_per_tile,
                    ExpertSortOutputs out) {
  __shared__ int32_t expert_rows[kMaxExperts];  // counts, then after the scan each expert's next free row
  const int expert = threadIdx.x;
  if (expert < experts) expert_rows[expert] = 0;  // shared memory only: may overlap the previous kernel
  wait_for_previous_kernel();
  // After the wait, like the routing kernels (ops/cuda/moe_routing.cu, "Launch order"): the sort ends
  // ops::moe_routing's chain when routing and sort are two launches.
  allow_next_kernel();
  __syncthreads();
  for (int64_t i = threadIdx.x; i < assignments; i += kSortThreads) {
    const int32_t id = topk_ids[i];
    if (id >= 0 && id < experts) atomicAdd(&expert_rows[id], 1);
  }
  __syncthreads();
  scan_expert_counts(expert_rows, experts, rows_per_tile, out);
  for (int64_t i = threadIdx.x; i < assignments; i += kSortThreads)
    place_assignment(topk_ids[i], i, experts, expert_rows, out);
}

// One thread per output column, kCombineThreads columns per CTA and one row of CTAs per token: a decode step
// (one token) still spreads over hidden / 256 CTAs instead of looping in one.
constexpr int kCombineThreads = 256;

template <typename Row, typename Out>
__global__ void __launch_bounds__(kCombineThreads)
    moe_combine_kernel(const Row* __restrict__ expert_rows, const int32_t* __restrict__ slot_positions,
                       const float* __restrict__ weights, int top_k, int64_t hidden, Out* __restrict__ output) {
  allow_next_kernel();
  wait_for_previous_kernel();
  const int64_t token = blockIdx.x;
  const int64_t column = static_cast<int64_t>(blockIdx.y) * kCombineThreads + threadIdx.x;
  if (column >= hidden) return;
  float sum = static_cast<float>(output[token * hidden + column]);
  for (int j = 0; j < top_k; ++j) {
    const int32_t position = slot_positions[token * top_k + j];
    if (position >= 0)
      sum += weights[token * top_k + j] * static_cast<float>(expert_rows[static_cast<int64_t>(position) * hidden + column]);
  }
  if constexpr (sizeof(Out) == 4) output[token * hidden + column] = sum;
  else output[token * hidden + column] = __float2bfloat16_rn(sum);
}

template <typename Row, typename Out>
void launch_combine(const void* expert_rows, const int32_t* slot_positions, const float* weights, int64_t tokens,
                    int top_k, int64_t hidden, void* output, cudaStream_t stream) {
  dim3 grid(static_cast<unsigned>(tokens), static_cast<unsigned>((hidden + kCombineThreads - 1) / kCombineThreads));
  launch_kernel("moe_combine_kernel", moe_combine_kernel<Row, Out>, grid, kCombineThreads, 0, stream,
                static_cast<const Row*>(expert_rows), slot_positions, weights, top_k, hidden, static_cast<Out*>(output));
}

}  // namespace

void moe_sort(const int32_t* topk_ids, int64_t assignments, int experts, int rows_per_tile, int32_t* expert_offsets,
              int32_t* tile_offsets, int32_t* active_experts, int32_t* sorted_slots, int32_t* slot_positions,
              cudaStream_t stream) {
  DSINFER_CHECK(experts > 0 && experts <= kMaxExperts, "MoE sort: ", experts, " experts (at most ", kMaxExperts, ")");
  const ExpertSortOutputs out{expert_offsets, tile_offsets, active_experts, sorted_slots, slot_positions};
  launch_kernel("moe_sort_kernel", moe_sort_kernel, 1, kSortThreads, 0, stream, topk_ids, assignments, experts,
                rows_per_tile, out);
}

void moe_combine(const void* expert_rows, DType rows_dtype, const int32_t* slot_positions, const float* weights,
                 int64_t tokens, int top_k, int64_t hidden, void* output, DType output_dtype, cudaStream_t stream) {
  DSINFER_CHECK((rows_dtype == DType::kBF16 || rows_dtype == DType::kF32) &&
                    (output_dtype == DType::kBF16 || output_dtype == DType::kF32),
                "MoE combine: rows ", dtype_name(rows_dtype), " and output ", dtype_name(output_dtype),
                " must be BF16 or F32");
  DSINFER_CHECK(hidden <= 65535 * kCombineThreads, "MoE combine: hidden size ", hidden, " exceeds one launch");
  if (tokens == 0) return;
  const bool f32_rows = rows_dtype == DType::kF32, f32_output = output_dtype == DType::kF32;
  if (f32_rows && f32_output) {
    launch_combine<float, float>(expert_rows, slot_positions, weights, tokens, top_k, hidden, output, stream);
  } else if (f32_rows) {
    launch_combine<float, __nv_bfloat16>(expert_rows, slot_positions, weights, tokens, top_k, hidden, output, stream);
  } else if (f32_output) {
    launch_combine<__nv_bfloat16, float>(expert_rows, slot_positions, weights, tokens, top_k, hidden, output, stream);
  } else {
    launch_combine<__nv_bfloat16, __nv_bfloat16>(expert_rows, slot_positions, weights, tokens, top_k, hidden, output,
                                                 stream);
  }
}

}  // namespace dsinfer::cuda
