// The grouped expert GEMM (see grouped_gemm.h). One CTA computes a 32-row x 64-column output tile of one
// expert: 4 warps in a 2 x 2 arrangement, each 16 rows x 32 columns on the tensor cores (mma.sync; BF16
// m16n8k16 or e4m3 m16n8k32, both 32 bytes of K per step). K streams through shared memory in 128-byte
// chunks (64 BF16 or 128 e4m3 values: exactly one FP8 scale block), three stages deep with cp.async.
// Chunk c of row r sits at c ^ (r % 8) so ldmatrix reads hit all banks.
#include "core/error.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/device_math.cuh"
#include "kernels/common/launch.cuh"
#include "kernels/common/mma_sm80.cuh"
#include "kernels/sm90/moe/grouped_gemm.h"

namespace dsinfer::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kTileRows = kGroupedRowsPerTile;  // 32
constexpr int kTileColumns = 64;
constexpr int kChunkBytes = 128;
constexpr int kStages = 3;
constexpr int kRowTileBytes = kTileRows * kChunkBytes;        // A tile of one stage
constexpr int kColumnTileBytes = kTileColumns * kChunkBytes;  // one weight tile of one stage

constexpr int stage_bytes(bool gated) { return kRowTileBytes + (gated ? 2 : 1) * kColumnTileBytes; }

__device__ __forceinline__ uint32_t swizzled(int row, int chunk) {
  return static_cast<uint32_t>(row * kChunkBytes + ((chunk ^ (row & 7)) << 4));
}

template <bool kFp8, bool kGated>
__global__ void __launch_bounds__(kThreads) grouped_gemm_kernel(const GroupedGemmParams params) {
  extern __shared__ __align__(128) uint8_t shared[];
  constexpr int kStageBytes = stage_bytes(kGated);
  constexpr int kElementBytes = kFp8 ? 1 : 2;
  allow_next_kernel();
  wait_for_previous_kernel();

  // Which expert and which of its row tiles: the largest e with tile_offsets[e] <= tile.
  const int tile = blockIdx.y;
  int expert = 0, row_begin = tile * kTileRows, row_end = static_cast<int>(params.rows);
  if (params.expert_offsets != nullptr) {
    if (tile >= params.tile_offsets[params.experts]) return;
    int low = 0, high = params.experts - 1;
    while (low < high) {
      int middle = (low + high + 1) / 2;
      if (params.tile_offsets[middle] <= tile) low = middle;
      else high = middle - 1;
    }
    expert = low;
    row_begin = params.expert_offsets[expert] + (tile - params.tile_offsets[expert]) * kTileRows;
    row_end = params.expert_offsets[expert + 1];
  } else if (row_begin >= row_end) {
    return;
  }
  const int64_t column_begin = static_cast<int64_t>(blockIdx.x) * kTileColumns;
  const int64_t k_bytes = params.k * kElementBytes;
  const int chunks = static_cast<int>((k_bytes + kChunkBytes - 1) / kChunkBytes);
  const bool tables = params.weight0_experts != nullptr;
  const uint8_t* weight0 = static_cast<const uint8_t*>(tables ? params.weight0_experts[expert] : params.weight0);
  const uint8_t* weight1 = kGated ? static_cast<const uint8_t*>(params.weight1_experts[expert]) : nullptr;

  const int thread = threadIdx.x, warp = thread / 32, lane = thread % 32;
  auto source_row = [&](int sorted_row) -> int64_t {
    return params.a_row_slots != nullptr ? params.a_row_slots[sorted_row] / params.a_row_divisor : sorted_row;
  };

  // This thread's copies: 2 chunks of the A tile, 4 of each weight tile (the same rows every stage).
  const uint8_t* a_source[2];
  bool a_valid[2];
  for (int i = 0; i < 2; ++i) {
    int id = thread + i * kThreads, row = id / 8, chunk = id % 8, sorted_row = row_begin + row;
    a_valid[i] = sorted_row < row_end;
    a_source[i] = static_cast<const uint8_t*>(params.a) + (a_valid[i] ? source_row(sorted_row) : 0) * k_bytes + chunk * 16;
  }
  auto load_stage = [&](int chunk_index, int stage) {
    uint8_t* base = shared + stage * kStageBytes;
    const int64_t offset = static_cast<int64_t>(chunk_index) * kChunkBytes;
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      int id = thread + i * kThreads, row = id / 8, chunk = id % 8;
      bool valid = a_valid[i] && offset + chunk * 16 < k_bytes;
      cp_async_16(shared_address(base + swizzled(row, chunk)), valid ? a_source[i] + offset : params.a, valid ? 16 : 0);
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      int id = thread + i * kThreads, row = id / 8, chunk = id % 8;
      int64_t column = column_begin + row;
      bool valid = column < params.n && offset + chunk * 16 < k_bytes;
      int64_t source = valid ? column * k_bytes + offset + chunk * 16 : 0;
      cp_async_16(shared_address(base + kRowTileBytes + swizzled(row, chunk)), weight0 + source, valid ? 16 : 0);
      if constexpr (kGated)
        cp_async_16(shared_address(base + kRowTileBytes + kColumnTileBytes + swizzled(row, chunk)), weight1 + source,
                    valid ? 16 : 0);
    }
  };

  const int warp_row = (warp % 2) * 16, warp_column = (warp / 2) * 32;
  float accumulator0[4][4] = {}, accumulator1[4][4] = {};

  // FP8: the A rows whose scales this thread applies (rows lane/4 and lane/4 + 8 of the warp's 16).
  int64_t scale_rows[2] = {0, 0};
  const float* weight0_scales = nullptr;
  const float* weight1_scales = nullptr;
  if constexpr (kFp8) {
    for (int half = 0; half < 2; ++half) {
      int sorted_row = row_begin + warp_row + lane / 4 + 8 * half;
      scale_rows[half] = sorted_row < row_end ? source_row(sorted_row) : 0;
    }
    const int64_t scale_row = (column_begin / 128) * chunks;
    weight0_scales = (tables ? params.weight0_scale_experts[expert] : params.weight0_scales) + scale_row;
    if constexpr (kGated) weight1_scales = params.weight1_scale_experts[expert] + scale_row;
  }

#pragma unroll
  for (int stage = 0; stage < kStages - 1; ++stage) {
    if (stage < chunks) load_stage(stage, stage);
    cp_async_commit();
  }
  for (int chunk_index = 0; chunk_index < chunks; ++chunk_index) {
    cp_async_wait<kStages - 2>();
    __syncthreads();  // chunk `chunk_index` landed; everyone finished the stage about to be refilled
    int next = chunk_index + kStages - 1;
    if (next < chunks) load_stage(next, next % kStages);
    cp_async_commit();

    const uint8_t* base = shared + (chunk_index % kStages) * kStageBytes;
    float block0[4][4] = {}, block1[4][4] = {};
    float (&target0)[4][4] = kFp8 ? block0 : accumulator0;
    float (&target1)[4][4] = kFp8 ? block1 : accumulator1;
#pragma unroll
    for (int step = 0; step < kChunkBytes / 32; ++step) {
      uint32_t a[4];
      ldmatrix_x4(a, shared_address(base + swizzled(warp_row + lane % 16, 2 * step + lane / 16)));
#pragma unroll
      for (int pair = 0; pair < 2; ++pair) {
        int row = warp_column + pair * 16 + (lane / 16) * 8 + lane % 8;
        int chunk = 2 * step + (lane / 8) % 2;
        uint32_t b[4];
        ldmatrix_x4(b, shared_address(base + kRowTileBytes + swizzled(row, chunk)));
        if constexpr (kFp8) {
          mma_e4m3_16832(target0[2 * pair], a, b[0], b[1]);
          mma_e4m3_16832(target0[2 * pair + 1], a, b[2], b[3]);
        } else {
          mma_bf16_16816(target0[2 * pair], a, b[0], b[1]);
          mma_bf16_16816(target0[2 * pair + 1], a, b[2], b[3]);
        }
        if constexpr (kGated) {
          ldmatrix_x4(b, shared_address(base + kRowTileBytes + kColumnTileBytes + swizzled(row, chunk)));
          if constexpr (kFp8) {
            mma_e4m3_16832(target1[2 * pair], a, b[0], b[1]);
            mma_e4m3_16832(target1[2 * pair + 1], a, b[2], b[3]);
          } else {
            mma_bf16_16816(target1[2 * pair], a, b[0], b[1]);
            mma_bf16_16816(target1[2 * pair + 1], a, b[2], b[3]);
          }
        }
      }
    }
    if constexpr (kFp8) {
      // Promote this 128-wide K block: scale by the token's and the weight block's factors.
      float a_scale[2];
#pragma unroll
      for (int half = 0; half < 2; ++half)
        a_scale[half] = params.a_scales[static_cast<int64_t>(chunk_index) * params.a_scales_stride + scale_rows[half]];
      const float w0 = weight0_scales[chunk_index];
      const float w1 = kGated ? weight1_scales[chunk_index] : 0.0f;
#pragma unroll
      for (int t = 0; t < 4; ++t) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          accumulator0[t][i] += block0[t][i] * (a_scale[i / 2] * w0);
          if constexpr (kGated) accumulator1[t][i] += block1[t][i] * (a_scale[i / 2] * w1);
        }
      }
    }
  }
  cp_async_wait<0>();

#pragma unroll
  for (int half = 0; half < 2; ++half) {
    int sorted_row = row_begin + warp_row + lane / 4 + 8 * half;
    if (sorted_row >= row_end) continue;
#pragma unroll
    for (int t = 0; t < 4; ++t) {
      int64_t column = column_begin + warp_column + t * 8 + 2 * (lane % 4);
      if (column >= params.n) continue;
      float first = accumulator0[t][2 * half], second = accumulator0[t][2 * half + 1];
      if constexpr (kGated) {
        first = first / (1.0f + __expf(-first)) * accumulator1[t][2 * half];
        second = second / (1.0f + __expf(-second)) * accumulator1[t][2 * half + 1];
      }
      const int64_t offset = static_cast<int64_t>(sorted_row) * params.n + column;
      if (params.out_f32) {
        *reinterpret_cast<float2*>(static_cast<float*>(params.out) + offset) = make_float2(first, second);
      } else {
        *reinterpret_cast<uint32_t*>(static_cast<__nv_bfloat16*>(params.out) + offset) = pack_bf16x2(first, second);
      }
    }
  }
}

template <bool kFp8, bool kGated>
void launch(const GroupedGemmParams& params, cudaStream_t stream) {
  constexpr int kShared = kStages * stage_bytes(kGated);
  static bool configured = [] {
    DSINFER_CUDA_CHECK(
        cudaFuncSetAttribute(grouped_gemm_kernel<kFp8, kGated>, cudaFuncAttributeMaxDynamicSharedMemorySize, kShared));
    return true;
  }();
  (void)configured;
  // Row tiles: at most one partial tile per expert beyond the full ones.
  int64_t max_tiles = (params.rows + kTileRows - 1) / kTileRows + (params.expert_offsets != nullptr ? params.experts : 0);
  dim3 grid(static_cast<unsigned>((params.n + kTileColumns - 1) / kTileColumns), static_cast<unsigned>(max_tiles));
  launch_kernel("grouped_gemm_kernel", grouped_gemm_kernel<kFp8, kGated>, grid, kThreads, kShared, stream, params);
}

}  // namespace

void grouped_gemm(const GroupedGemmParams& params, bool fp8, bool gated, cudaStream_t stream) {
  DSINFER_CHECK(!gated || params.weight1_experts != nullptr, "grouped expert GEMM: the gated form needs expert tables");
  DSINFER_CHECK(params.n > 0 && params.k > 0 && params.n % 2 == 0 && (params.k * (fp8 ? 1 : 2)) % 16 == 0,
                "grouped expert GEMM: n=", params.n, " must be even and k=", params.k, " a multiple of ",
                fp8 ? 16 : 8);
  DSINFER_CHECK(params.rows / kTileRows + params.experts < 65535, "grouped expert GEMM: ", params.rows,
                " routed rows exceed one launch; lower --chunked-prefill-size");
  if (params.rows == 0) return;
  if (fp8) {
    if (gated) launch<true, true>(params, stream);
    else launch<true, false>(params, stream);
  } else {
    if (gated) launch<false, true>(params, stream);
    else launch<false, false>(params, stream);
  }
}

}  // namespace dsinfer::cuda
