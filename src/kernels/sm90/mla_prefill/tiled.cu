// Causal flash attention for DeepSeek's prefill head dims (q/k 128 + 64, v 128), FlashAttention-2 style:
// one CTA per (64 query rows, head, sequence), 4 warps of 16 query rows each, so every warp owns whole rows
// and keeps its softmax state and output in registers. Key/value tiles of 64 keys stream through shared
// memory (cp.async, double buffered); S = Q K^T and O += P V run on mma.sync m16n8k16 (BF16, FP32 accumulate),
// P going from the S accumulators straight into A fragments. Rows of shared tiles are 16-byte chunks with
// chunk c of row r at c ^ (r % 8).
#include "kernels/common/cuda_check.h"
#include "kernels/common/device_math.cuh"
#include "kernels/common/mma_sm80.cuh"
#include "kernels/sm90/mla_prefill/launch.h"

namespace dsinfer::cuda::mla_prefill {

namespace {

constexpr int kNope = 128, kRope = 64, kQk = kNope + kRope, kValue = 128;
constexpr int kRows = 64, kKeys = 64, kThreads = 128;
constexpr int kQkChunks = kQk * 2 / 16;       // 24 chunks per query / key row
constexpr int kNopeChunks = kNope * 2 / 16;   // 16
constexpr int kValueChunks = kValue * 2 / 16; // 16
constexpr int kQkRowBytes = kQk * 2, kValueRowBytes = kValue * 2;
constexpr int kQBytes = kRows * kQkRowBytes, kKBytes = kKeys * kQkRowBytes, kVBytes = kKeys * kValueRowBytes;
constexpr int kSharedBytes = kQBytes + 2 * (kKBytes + kVBytes);

__device__ __forceinline__ uint32_t swizzled(int row, int chunk, int row_bytes) {
  return static_cast<uint32_t>(row * row_bytes + ((chunk ^ (row & 7)) << 4));
}

__global__ void __launch_bounds__(kThreads) mla_prefill_tiled_kernel(const MlaPrefillParams params) {
  extern __shared__ __align__(128) uint8_t shared[];
  uint8_t* shared_q = shared;
  uint8_t* shared_k = shared_q + kQBytes;            // two buffers
  uint8_t* shared_v = shared_k + 2 * kKBytes;        // two buffers

  const int block = blockIdx.x, head = blockIdx.y, sequence = blockIdx.z;
  const int first_row = params.query_start[sequence];
  const int new_tokens = params.query_start[sequence + 1] - first_row;
  const int length = params.kv_length[sequence];
  const int first_query = block * kRows;
  if (first_query >= new_tokens) return;
  const int thread = threadIdx.x, warp = thread / 32, lane = thread % 32;
  const int heads = params.heads;
  const int64_t expanded_row = static_cast<int64_t>(heads) * (kNope + kValue);
  const int64_t kv_base = static_cast<int64_t>(sequence) * params.kv_stride;

  for (int index = thread; index < kRows * kQkChunks; index += kThreads) {
    int row = index / kQkChunks, chunk = index % kQkChunks, query = first_query + row;
    bool valid = query < new_tokens;
    const __nv_bfloat16* source =
        static_cast<const __nv_bfloat16*>(params.q) +
        ((static_cast<int64_t>(first_row) + (valid ? query : 0)) * heads + head) * kQk + chunk * 8;
    cp_async_16(shared_address(shared_q + swizzled(row, chunk, kQkRowBytes)), source, valid ? 16 : 0);
  }
  const auto* expanded = static_cast<const __nv_bfloat16*>(params.expanded);
  const auto* rope_keys = static_cast<const __nv_bfloat16*>(params.rope_keys);
  auto load_tile = [&](int tile, int buffer) {
    uint8_t* keys = shared_k + buffer * kKBytes;
    uint8_t* values = shared_v + buffer * kVBytes;
    for (int index = thread; index < kKeys * (kQkChunks + kValueChunks); index += kThreads) {
      int row = index / (kQkChunks + kValueChunks), chunk = index % (kQkChunks + kValueChunks);
      int key = tile * kKeys + row;
      bool valid = key < length;
      int64_t key_row = kv_base + (valid ? key : 0);
      const __nv_bfloat16* head_row = expanded + key_row * expanded_row + head * (kNope + kValue);
      if (chunk < kQkChunks) {
        const __nv_bfloat16* source = chunk < kNopeChunks ? head_row + chunk * 8
                                                          : rope_keys + key_row * kRope + (chunk - kNopeChunks) * 8;
        cp_async_16(shared_address(keys + swizzled(row, chunk, kQkRowBytes)), source, valid ? 16 : 0);
      } else {
        int value_chunk = chunk - kQkChunks;
        cp_async_16(shared_address(values + swizzled(row, value_chunk, kValueRowBytes)),
                    head_row + kNope + value_chunk * 8, valid ? 16 : 0);
      }
    }
  };

  // Positions of this thread's two query rows (lane/4 and lane/4 + 8 of the warp's 16).
  const int last_query = min(first_query + kRows, new_tokens) - 1;
  const int last_position = length - new_tokens + last_query;
  int position[2];
  for (int half = 0; half < 2; ++half)
    position[half] = length - new_tokens + first_query + warp * 16 + lane / 4 + 8 * half;
  const float scale_log2 = params.softmax_scale * kLog2e;
  float running_max[2] = {-INFINITY, -INFINITY}, running_sum[2] = {0.0f, 0.0f};
  float output[kValue / 8][4] = {};

  const int tiles = last_position / kKeys + 1;
  load_tile(0, 0);
  cp_async_commit();
  for (int tile = 0; tile < tiles; ++tile) {
    const int buffer = tile & 1;
    cp_async_wait<0>();
    __syncthreads();
    if (tile + 1 < tiles) load_tile(tile + 1, buffer ^ 1);
    cp_async_commit();
    const uint8_t* keys = shared_k + buffer * kKBytes;
    const uint8_t* values = shared_v + buffer * kVBytes;

    float scores[kKeys / 8][4] = {};
#pragma unroll
    for (int step = 0; step < kQk / 16; ++step) {
      uint32_t a[4];
      ldmatrix_x4(a, shared_address(shared_q + swizzled(warp * 16 + lane % 16, 2 * step + lane / 16, kQkRowBytes)));
#pragma unroll
      for (int pair = 0; pair < kKeys / 16; ++pair) {
        uint32_t b[4];
        ldmatrix_x4(b, shared_address(keys + swizzled(pair * 16 + (lane / 16) * 8 + lane % 8, 2 * step + (lane / 8) % 2,
                                                      kQkRowBytes)));
        mma_bf16_16816(scores[2 * pair], a, b[0], b[1]);
        mma_bf16_16816(scores[2 * pair + 1], a, b[2], b[3]);
      }
    }
    float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int t = 0; t < kKeys / 8; ++t) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        int key = tile * kKeys + t * 8 + 2 * (lane % 4) + (i & 1);
        scores[t][i] = key <= position[i / 2] ? scores[t][i] * scale_log2 : -INFINITY;
        tile_max[i / 2] = fmaxf(tile_max[i / 2], scores[t][i]);
      }
    }
    float rescale[2];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      tile_max[half] = fmaxf(tile_max[half], __shfl_xor_sync(0xffffffffu, tile_max[half], 1));
      tile_max[half] = fmaxf(tile_max[half], __shfl_xor_sync(0xffffffffu, tile_max[half], 2));
      float new_max = fmaxf(running_max[half], tile_max[half]);  // finite: key 0 is visible to every row
      rescale[half] = exp2f(running_max[half] - new_max);
      running_max[half] = new_max;
      running_sum[half] *= rescale[half];
    }
#pragma unroll
    for (int t = 0; t < kKeys / 8; ++t) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        scores[t][i] = exp2f(scores[t][i] - running_max[i / 2]);
        running_sum[i / 2] += scores[t][i];
      }
    }
#pragma unroll
    for (int t = 0; t < kValue / 8; ++t) {
      output[t][0] *= rescale[0];
      output[t][1] *= rescale[0];
      output[t][2] *= rescale[1];
      output[t][3] *= rescale[1];
    }
#pragma unroll
    for (int step = 0; step < kKeys / 16; ++step) {
      const uint32_t a[4] = {pack_bf16x2(scores[2 * step][0], scores[2 * step][1]),
                             pack_bf16x2(scores[2 * step][2], scores[2 * step][3]),
                             pack_bf16x2(scores[2 * step + 1][0], scores[2 * step + 1][1]),
                             pack_bf16x2(scores[2 * step + 1][2], scores[2 * step + 1][3])};
      int row = step * 16 + lane % 8 + ((lane / 8) % 2) * 8;
#pragma unroll
      for (int pair = 0; pair < kValue / 16; ++pair) {
        uint32_t b[4];
        ldmatrix_x4_transposed(b, shared_address(values + swizzled(row, 2 * pair + lane / 16, kValueRowBytes)));
        mma_bf16_16816(output[2 * pair], a, b[0], b[1]);
        mma_bf16_16816(output[2 * pair + 1], a, b[2], b[3]);
      }
    }
  }
  cp_async_wait<0>();

#pragma unroll
  for (int half = 0; half < 2; ++half) {
    running_sum[half] += __shfl_xor_sync(0xffffffffu, running_sum[half], 1);
    running_sum[half] += __shfl_xor_sync(0xffffffffu, running_sum[half], 2);
    int query = first_query + warp * 16 + lane / 4 + 8 * half;
    if (query >= new_tokens) continue;
    float inverse = 1.0f / running_sum[half];
    __nv_bfloat16* out =
        static_cast<__nv_bfloat16*>(params.out) + ((static_cast<int64_t>(first_row) + query) * heads + head) * kValue;
#pragma unroll
    for (int t = 0; t < kValue / 8; ++t)
      *reinterpret_cast<uint32_t*>(out + t * 8 + 2 * (lane % 4)) =
          pack_bf16x2(output[t][2 * half] * inverse, output[t][2 * half + 1] * inverse);
  }
}

}  // namespace

bool supports_tiled(const MlaPrefillParams& params) {
  return !params.f32 && params.nope_dim == kNope && params.rope_dim == kRope && params.v_dim == kValue;
}

void launch_tiled(const MlaPrefillParams& params, cudaStream_t stream) {
  static bool configured = [] {
    DSINFER_CUDA_CHECK(
        cudaFuncSetAttribute(mla_prefill_tiled_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSharedBytes));
    return true;
  }();
  (void)configured;
  dim3 grid((params.max_query_length + kRows - 1) / kRows, params.heads, params.sequences);
  mla_prefill_tiled_kernel<<<grid, kThreads, kSharedBytes, stream>>>(params);
  DSINFER_CUDA_CHECK_LAUNCH("mla_prefill_tiled_kernel");
}

}  // namespace dsinfer::cuda::mla_prefill
