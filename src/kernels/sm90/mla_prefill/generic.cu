// MLA prefill attention for any head sizes (q/k up to 256, v up to 256 values), BF16 or F32: one warp per
// (query row, head, sequence) walks the visible keys with an online softmax on CUDA cores. Also the latent
// gather and the dispatch between this kernel and the tiled one.
#include "core/error.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/device_math.cuh"
#include "kernels/sm90/mla_prefill/launch.h"

namespace dsinfer::cuda {

namespace mla_prefill {

namespace {

constexpr int kMaxPerLane = 8;  // 256 values

// Element: the dtype of q, the expanded keys / values, the rope keys and the output.
template <typename Element>
__global__ void __launch_bounds__(32) mla_prefill_generic_kernel(const MlaPrefillParams params) {
  const int query = blockIdx.x, head = blockIdx.y, sequence = blockIdx.z, lane = threadIdx.x;
  const int first_row = params.query_start[sequence];
  const int new_tokens = params.query_start[sequence + 1] - first_row;
  if (query >= new_tokens) return;
  const int length = params.kv_length[sequence];
  const int position = length - new_tokens + query;
  const int qk_dim = params.nope_dim + params.rope_dim;
  const int64_t expanded_row = static_cast<int64_t>(params.heads) * (params.nope_dim + params.v_dim);
  const Element* q =
      static_cast<const Element*>(params.q) + ((static_cast<int64_t>(first_row) + query) * params.heads + head) * qk_dim;
  const auto* expanded = static_cast<const Element*>(params.expanded);
  const auto* rope_keys = static_cast<const Element*>(params.rope_keys);
  float q_values[kMaxPerLane];
#pragma unroll
  for (int i = 0; i < kMaxPerLane; ++i) {
    int d = i * 32 + lane;
    q_values[i] = d < qk_dim ? to_float(q[d]) : 0.0f;
  }
  const float scale_log2 = params.softmax_scale * kLog2e;
  float running_max = -INFINITY, running_sum = 0.0f, output[kMaxPerLane] = {};
  for (int key = 0; key <= position; ++key) {
    const int64_t key_row = static_cast<int64_t>(sequence) * params.kv_stride + key;
    const Element* head_row = expanded + key_row * expanded_row + head * (params.nope_dim + params.v_dim);
    float dot = 0.0f;
#pragma unroll
    for (int i = 0; i < kMaxPerLane; ++i) {
      int d = i * 32 + lane;
      float k = d < params.nope_dim ? to_float(head_row[d])
                : d < qk_dim       ? to_float(rope_keys[key_row * params.rope_dim + d - params.nope_dim])
                                   : 0.0f;
      dot += q_values[i] * k;
    }
    float score = warp_sum(dot) * scale_log2;
    float new_max = fmaxf(running_max, score);
    float rescale = exp2f(running_max - new_max), probability = exp2f(score - new_max);
    running_max = new_max;
    running_sum = running_sum * rescale + probability;
#pragma unroll
    for (int i = 0; i < kMaxPerLane; ++i) {
      int d = i * 32 + lane;
      float v = d < params.v_dim ? to_float(head_row[params.nope_dim + d]) : 0.0f;
      output[i] = output[i] * rescale + probability * v;
    }
  }
  Element* out =
      static_cast<Element*>(params.out) + ((static_cast<int64_t>(first_row) + query) * params.heads + head) * params.v_dim;
#pragma unroll
  for (int i = 0; i < kMaxPerLane; ++i) {
    int d = i * 32 + lane;
    if (d < params.v_dim) store_float(out + d, output[i] / running_sum);
  }
}

template <typename Element>
__global__ void gather_latents_kernel(const Element* kv_cache, int page_size, const int32_t* page_table,
                                      int page_table_stride, const int32_t* kv_length, int kv_stride, int latent_dim,
                                      int rope_dim, Element* latents, Element* rope_keys) {
  const int key = blockIdx.x, sequence = blockIdx.y, width = latent_dim + rope_dim;
  const int64_t row = static_cast<int64_t>(sequence) * kv_stride + key;
  const bool valid = key < kv_length[sequence];
  const Element* entry =
      valid ? kv_cache + (static_cast<int64_t>(page_table[static_cast<int64_t>(sequence) * page_table_stride +
                                                          key / page_size]) * page_size + key % page_size) * width
            : nullptr;
  const Element zero = static_cast<Element>(0.0f);
  for (int d = threadIdx.x; d < width; d += blockDim.x) {
    Element value = valid ? entry[d] : zero;
    if (d < latent_dim) latents[row * latent_dim + d] = value;
    else rope_keys[row * rope_dim + d - latent_dim] = value;
  }
}

}  // namespace

void launch_generic(const MlaPrefillParams& params, cudaStream_t stream) {
  DSINFER_CHECK(params.nope_dim + params.rope_dim <= 32 * kMaxPerLane && params.v_dim <= 32 * kMaxPerLane,
                "MLA prefill: head dims ", params.nope_dim, " + ", params.rope_dim, " / ", params.v_dim,
                " exceed the generic kernel's ", 32 * kMaxPerLane);
  dim3 grid(params.max_query_length, params.heads, params.sequences);
  if (params.f32) mla_prefill_generic_kernel<float><<<grid, 32, 0, stream>>>(params);
  else mla_prefill_generic_kernel<__nv_bfloat16><<<grid, 32, 0, stream>>>(params);
  DSINFER_CUDA_CHECK_LAUNCH("mla_prefill_generic_kernel");
}

}  // namespace mla_prefill

void run_mla_prefill(const MlaPrefillParams& params, cudaStream_t stream) {
  if (params.sequences == 0 || params.max_query_length == 0) return;
  if (mla_prefill::supports_tiled(params)) mla_prefill::launch_tiled(params, stream);
  else mla_prefill::launch_generic(params, stream);
}

void gather_mla_latents(const void* kv_cache, bool f32, int page_size, const int32_t* page_table,
                        int page_table_stride, const int32_t* kv_length, int sequences, int kv_stride, int latent_dim,
                        int rope_dim, void* latents, void* rope_keys, cudaStream_t stream) {
  if (sequences == 0 || kv_stride == 0) return;
  dim3 grid(kv_stride, sequences);
  if (f32) {
    mla_prefill::gather_latents_kernel<float><<<grid, 128, 0, stream>>>(
        static_cast<const float*>(kv_cache), page_size, page_table, page_table_stride, kv_length, kv_stride, latent_dim,
        rope_dim, static_cast<float*>(latents), static_cast<float*>(rope_keys));
  } else {
    mla_prefill::gather_latents_kernel<__nv_bfloat16><<<grid, 128, 0, stream>>>(
        static_cast<const __nv_bfloat16*>(kv_cache), page_size, page_table, page_table_stride, kv_length, kv_stride,
        latent_dim, rope_dim, static_cast<__nv_bfloat16*>(latents), static_cast<__nv_bfloat16*>(rope_keys));
  }
  DSINFER_CUDA_CHECK_LAUNCH("gather_latents_kernel");
}

}  // namespace dsinfer::cuda
