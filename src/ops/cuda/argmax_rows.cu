// argmax_rows on CUDA: each row is split over CTAs of kChunk values, so a 100k-vocabulary row at batch 1 is read
// by ~50 SMs instead of one (a single CTA took 35 us on the H200, latency bound). Each CTA turns its best value
// and index into one packed key (order-preserving value bits, then the inverted index, so the larger key is the
// larger value and, on ties, the lower index; NaN ranks below everything), writes it, and takes a ticket; the
// row's last CTA reduces the row's keys, writes the id and resets the ticket for the next call.
#include "kernels/common/launch.cuh"
#include "kernels/runtime/op_timing.h"
#include "kernels/runtime/scratch.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/cuda_ops.h"

namespace dsinfer::ops::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kValuesPerThread = 8;
constexpr int64_t kChunk = kThreads * kValuesPerThread;  // values per CTA

__device__ __forceinline__ uint64_t packed_key(float value, int64_t index) {
  if (isnan(value)) return 0;  // below every number, -inf included
  const uint32_t bits = __float_as_uint(value);
  const uint32_t order = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);  // larger float, larger key
  return (static_cast<uint64_t>(order) << 32) | (0xffffffffu - static_cast<uint32_t>(index));
}

__device__ __forceinline__ uint64_t block_max(uint64_t key, uint64_t* warp_keys) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    const uint64_t other = __shfl_xor_sync(0xffffffffu, key, offset);
    key = other > key ? other : key;
  }
  if (threadIdx.x % 32 == 0) warp_keys[threadIdx.x / 32] = key;
  __syncthreads();
  key = warp_keys[0];
#pragma unroll
  for (int w = 1; w < kThreads / 32; ++w) key = warp_keys[w] > key ? warp_keys[w] : key;
  return key;
}

// grid (chunks, rows). keys [rows][chunks], tickets [rows] (zero between calls).
__global__ void __launch_bounds__(kThreads)
    argmax_rows_kernel(const float* logits, int64_t vocab, uint64_t* keys, uint32_t* tickets, int32_t* ids) {
  dsinfer::cuda::allow_next_kernel();
  dsinfer::cuda::wait_for_previous_kernel();
  __shared__ uint64_t warp_keys[kThreads / 32];
  __shared__ bool last;
  const int64_t row = blockIdx.y, chunks = gridDim.x, first = static_cast<int64_t>(blockIdx.x) * kChunk;
  const float* values = logits + row * vocab;
  float loaded[kValuesPerThread];
#pragma unroll
  for (int i = 0; i < kValuesPerThread; ++i) {  // every load issued before any compare
    const int64_t index = first + i * kThreads + threadIdx.x;
    loaded[i] = index < vocab ? values[index] : NAN;
  }
  uint64_t key = 0;
#pragma unroll
  for (int i = 0; i < kValuesPerThread; ++i) {
    const uint64_t candidate = packed_key(loaded[i], first + i * kThreads + threadIdx.x);
    key = candidate > key ? candidate : key;
  }
  key = block_max(key, warp_keys);
  if (threadIdx.x == 0) {
    keys[row * chunks + blockIdx.x] = key;
    __threadfence();  // the key is visible before the ticket says so
    last = atomicAdd(&tickets[row], 1u) == chunks - 1;
  }
  __syncthreads();
  if (!last) return;
  __threadfence();
  __syncthreads();  // warp_keys is read by block_max above
  uint64_t best = 0;
  for (int64_t chunk = threadIdx.x; chunk < chunks; chunk += kThreads) {
    const uint64_t other = static_cast<volatile uint64_t*>(keys)[row * chunks + chunk];
    best = other > best ? other : best;
  }
  best = block_max(best, warp_keys);
  if (threadIdx.x == 0) {
    // An all-NaN row keeps key 0 everywhere: id 0, as the CPU twin gives.
    ids[row] = best == 0 ? 0 : static_cast<int32_t>(0xffffffffu - static_cast<uint32_t>(best & 0xffffffffu));
    tickets[row] = 0;
  }
}

// The tickets: zeroed whenever the scratch buffers moved (they are grow-only and reset by each call after).
uint32_t* zeroed_tickets(int64_t rows, cudaStream_t stream) {
  static uint64_t zeroed_generation = ~uint64_t{0};
  static int64_t zeroed_rows = 0;
  auto* tickets = dsinfer::cuda::scratch_as<uint32_t>(dsinfer::cuda::ScratchSlot::kArgmaxTickets, rows);
  const uint64_t generation = dsinfer::cuda::scratch_generation();
  if (generation != zeroed_generation || rows > zeroed_rows) {
    DSINFER_CUDA_CHECK(cudaMemsetAsync(tickets, 0, rows * sizeof(uint32_t), stream));
    zeroed_generation = generation;
    zeroed_rows = rows;
  }
  return tickets;
}

}  // namespace

void argmax_rows(const Tensor& logits, Tensor& ids) {
  dsinfer::cuda::OpTimer timer("argmax_rows");
  const int64_t rows = logits.dim(0), vocab = logits.dim(1);
  if (rows == 0) return;
  DSINFER_CHECK(rows <= 65535 && vocab > 0 && vocab < (int64_t{1} << 31), "ops::argmax_rows on CUDA: ", rows,
                " rows of ", vocab, " logits (at most 65535 rows, fewer than 2^31 columns)");
  cudaStream_t stream = dsinfer::cuda::current_stream();
  const int64_t chunks = (vocab + kChunk - 1) / kChunk;
  uint32_t* tickets = zeroed_tickets(rows, stream);
  auto* keys = dsinfer::cuda::scratch_as<uint64_t>(dsinfer::cuda::ScratchSlot::kSampling, rows * chunks);
  dsinfer::cuda::launch_kernel("argmax_rows_kernel", argmax_rows_kernel,
                               dim3(static_cast<unsigned>(chunks), static_cast<unsigned>(rows)), kThreads, 0, stream,
                               logits.data_as<const float>(), vocab, keys, tickets, ids.data_as<int32_t>());
}

}  // namespace dsinfer::ops::cuda
