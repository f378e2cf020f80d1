// MLA decode for any latent / rope width (up to 1024 values per cached token), any page size, BF16 or F32:
// one warp per (head, split, sequence) walks its tokens one at a time with an online softmax. CUDA cores
// only; it serves the small test models, shapes the tiled kernel does not cover and the F32-activation mode.
#include "core/error.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/device_math.cuh"
#include "kernels/common/launch.cuh"
#include "kernels/sm90/mla_decode/launch.h"

namespace dsinfer::cuda::mla_decode {

namespace {

constexpr int kMaxValuesPerLane = 32;  // 1024 values per cached token
constexpr int kMaxLatentPerLane = 16;  // 512 latent values

// Element: the dtype of q_latent, q_rope, the cache and out.
template <typename Element>
__global__ void __launch_bounds__(32) mla_decode_generic_kernel(const MlaDecodeParams params) {
  allow_next_kernel();
  wait_for_previous_kernel();
  const int head = blockIdx.x, split = blockIdx.y, sequence = blockIdx.z, lane = threadIdx.x;
  const int seq_len = params.seq_lens[sequence];
  const MlaSplit range = mla_split_range(seq_len, params.page_size, params.num_splits, split);
  if (split >= range.active_splits) return;
  const int width = params.latent_dim + params.rope_dim;
  const int32_t* pages = params.page_table + static_cast<int64_t>(sequence) * params.page_table_stride;
  const auto* q_latent = static_cast<const Element*>(params.q_latent);
  const auto* q_rope = static_cast<const Element*>(params.q_rope);
  const auto* kv_cache = static_cast<const Element*>(params.kv_cache);

  float q[kMaxValuesPerLane];
#pragma unroll
  for (int i = 0; i < kMaxValuesPerLane; ++i) {
    int d = i * 32 + lane;
    float value = 0.0f;
    if (d < params.latent_dim) {
      value = to_float(q_latent[sequence * params.q_latent_batch_stride + head * params.q_latent_head_stride + d]);
    } else if (d < width) {
      value = to_float(
          q_rope[sequence * params.q_rope_batch_stride + head * params.q_rope_head_stride + d - params.latent_dim]);
    }
    q[i] = value;
  }

  const float scale_log2 = params.softmax_scale * kLog2e;
  float running_max = -INFINITY, running_sum = 0.0f;
  float output[kMaxLatentPerLane];
#pragma unroll
  for (int i = 0; i < kMaxLatentPerLane; ++i) output[i] = 0.0f;

  int first_token = range.begin_page * params.page_size;
  int end_token = min(range.end_page * params.page_size, seq_len);
  for (int token = first_token; token < end_token; ++token) {
    const Element* row = kv_cache + (static_cast<int64_t>(pages[token / params.page_size]) * params.page_size +
                                     token % params.page_size) * width;
    float values[kMaxValuesPerLane];
    float dot = 0.0f;
#pragma unroll
    for (int i = 0; i < kMaxValuesPerLane; ++i) {
      int d = i * 32 + lane;
      values[i] = d < width ? to_float(row[d]) : 0.0f;
      dot += q[i] * values[i];
    }
    float score = warp_sum(dot) * scale_log2;
    float new_max = fmaxf(running_max, score);
    float rescale = exp2f(running_max - new_max);
    float probability = exp2f(score - new_max);
    running_max = new_max;
    running_sum = running_sum * rescale + probability;
#pragma unroll
    for (int i = 0; i < kMaxLatentPerLane; ++i) output[i] = output[i] * rescale + probability * values[i];
  }

  float inverse_sum = running_sum > 0.0f ? 1.0f / running_sum : 0.0f;
  if (range.active_splits == 1) {
    Element* out =
        static_cast<Element*>(params.out) + (static_cast<int64_t>(sequence) * params.num_heads + head) * params.latent_dim;
#pragma unroll
    for (int i = 0; i < kMaxLatentPerLane; ++i) {
      int d = i * 32 + lane;
      if (d < params.latent_dim) store_float(out + d, output[i] * inverse_sum);
    }
  } else {
    int64_t part = (static_cast<int64_t>(sequence) * params.num_splits + split) * params.num_heads + head;
    float* out = params.partial_out + part * params.latent_dim;
#pragma unroll
    for (int i = 0; i < kMaxLatentPerLane; ++i) {
      int d = i * 32 + lane;
      if (d < params.latent_dim) out[d] = output[i] * inverse_sum;
    }
    if (lane == 0) params.partial_lse[part] = running_max + log2f(running_sum);
  }
}

}  // namespace

void launch_generic(const MlaDecodeParams& params, cudaStream_t stream) {
  DSINFER_CHECK(params.latent_dim <= 32 * kMaxLatentPerLane && params.latent_dim + params.rope_dim <= 32 * kMaxValuesPerLane,
                "MLA decode: latent ", params.latent_dim, " + rope ", params.rope_dim, " values per token exceed the ",
                32 * kMaxValuesPerLane, " the generic kernel supports");
  dim3 grid(params.num_heads, params.num_splits, params.batch);
  if (params.f32) launch_kernel("mla_decode_generic_kernel", mla_decode_generic_kernel<float>, grid, 32, 0, stream, params);
  else launch_kernel("mla_decode_generic_kernel", mla_decode_generic_kernel<__nv_bfloat16>, grid, 32, 0, stream, params);
}

}  // namespace dsinfer::cuda::mla_decode
