// MLA cache write: entry = [rms_norm(kv_a[:latent]) * gain | rope(kv_a[latent:])] into the token's slot; with
// quantize_latent the latent is first rounded through e4m3 per 1x128 group (scale in double), as kv_b_proj's
// W8A8 input sees it, so absorbed decode attends to the latents the un-absorbed path expands.
// A decode step writes one entry per sequence, so latency is the chain of memory round trips: the common case
// (latent and rope widths multiples of 8, 16-byte aligned rows) takes the vector kernel, one thread per 8 values
// of the entry, the norm gain fetched before waiting on the previous kernel (a weight), one read of kv_a, one
// barrier, one write. Other shapes take the scalar kernel.
#include "kernels/common/launch.cuh"
#include "kernels/runtime/op_timing.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/cuda_ops.h"
#include "ops/cuda/vector_access.cuh"

namespace dsinfer::ops::cuda {

namespace {
constexpr int kThreads = 256;
constexpr int kMaxVectorThreads = 1024;
constexpr int kQuantizationGroup = 128;  // FP8 activation groups: 1 x 128
constexpr int kThreadsPerGroup = kQuantizationGroup / kVectorValues;
static_assert(kThreadsPerGroup == 16, "a group's threads are one aligned half-warp");

// Rotates the interleaved pairs [first_pair, first_pair + 4) held in values[0..8): cosines at angles[pair], sines
// at angles[rope_dim / 2 + pair] (angles: the position's row of the rope table; first_pair a multiple of 4).
__device__ __forceinline__ void rotate_four_pairs(float (&values)[kVectorValues], const float* angles,
                                                  int64_t first_pair, int64_t rope_dim) {
  const float4 cosine = *reinterpret_cast<const float4*>(angles + first_pair);
  const float4 sine = *reinterpret_cast<const float4*>(angles + rope_dim / 2 + first_pair);
  const float cosines[4] = {cosine.x, cosine.y, cosine.z, cosine.w}, sines[4] = {sine.x, sine.y, sine.z, sine.w};
#pragma unroll
  for (int pair = 0; pair < 4; ++pair) {
    const float a = values[2 * pair], b = values[2 * pair + 1];
    values[2 * pair] = a * cosines[pair] - b * sines[pair];
    values[2 * pair + 1] = a * sines[pair] + b * cosines[pair];
  }
}

// One block per new token; thread t owns entry columns [8t, 8t + 8): latent ones while 8t < latent_dim, then
// rope ones (four whole pairs). With a query ([T, query_heads, query_head_dim], its rope part the last rope_dim
// values of each head), the threads after the entry's rotate the query's rope pairs in place, 8 values each (the
// query's rope, fused here: one launch fewer per layer). Requires latent_dim % 8 == 0, rope_dim % 8 == 0,
// query_head_dim % 8 == 0 and kv_a, gain, cos_sin, cache and query vector_aligned. Slots and positions as in the
// scalar kernel below (an invalid one leaves the query unrotated too).
__global__ void __launch_bounds__(kMaxVectorThreads)
    mla_cache_write_vector_kernel(const void* kv_a, FloatKind input_kind, const void* gain, FloatKind gain_kind,
                                  int64_t latent_dim, int64_t rope_dim, float epsilon, bool quantize_latent,
                                  const int32_t* positions, const float* cos_sin, int64_t max_positions,
                                  const int32_t* slots, int64_t total_slots, void* cache, FloatKind cache_kind,
                                  void* query, FloatKind query_kind, int64_t query_heads, int64_t query_head_dim) {
  dsinfer::cuda::allow_next_kernel();
  const int64_t token = blockIdx.x, width = latent_dim + rope_dim;
  const int64_t column = static_cast<int64_t>(threadIdx.x) * kVectorValues;
  const bool latent = column < latent_dim, rope = !latent && column < width;
  const bool query_rope = query != nullptr && column >= width && column < width + query_heads * rope_dim;
  float scale[kVectorValues];  // the norm gain on latent columns
  if (latent) load_vector(gain, gain_kind, column, scale);
  dsinfer::cuda::wait_for_previous_kernel();

  const int32_t slot = slots[token], position = positions[token];
  // The whole block leaves together (slot and position are per token), before any barrier.
  if (slot < 0 || slot >= total_slots || position < 0 || position >= max_positions) return;
  float values[kVectorValues] = {};
  if (latent || rope) load_vector(kv_a, input_kind, token * width + column, values);
  float sum_squares = 0.0f;
  if (latent) {
#pragma unroll
    for (int i = 0; i < kVectorValues; ++i) sum_squares += values[i] * values[i];
  }
  const float inverse_rms = rsqrtf(block_sum_once(sum_squares) / static_cast<float>(latent_dim) + epsilon);
  if (latent) {
#pragma unroll
    for (int i = 0; i < kVectorValues; ++i) values[i] = scale[i] * (values[i] * inverse_rms);
  }
  if (quantize_latent) {
    // Group g (columns [128 g, 128 g + 128)) is threads [16 g, 16 g + 16): one aligned half-warp, since the
    // latent starts at thread 0. Its amax over xor-shuffles within the half-warp; non-latent threads add 0.
    float amax = 0.0f;
    if (latent) {
#pragma unroll
      for (int i = 0; i < kVectorValues; ++i) amax = fmaxf(amax, fabsf(values[i]));
    }
#pragma unroll
    for (int offset = kThreadsPerGroup / 2; offset > 0; offset >>= 1)
      amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, offset));
    if (latent) {
      const double group_scale =
          fmax(static_cast<double>(amax) / dsinfer::cuda::kFp8E4m3Max, static_cast<double>(1e-10f));
#pragma unroll
      for (int i = 0; i < kVectorValues; ++i) {
        uint8_t code = dsinfer::cuda::float_to_e4m3(static_cast<float>(values[i] / group_scale));
        values[i] = static_cast<float>(dsinfer::cuda::e4m3_to_float(code) * group_scale);
      }
    }
  }
  const float* angles = cos_sin + static_cast<int64_t>(position) * rope_dim;
  if (rope) rotate_four_pairs(values, angles, (column - latent_dim) / 2, rope_dim);
  if (latent || rope) store_vector(cache, cache_kind, static_cast<int64_t>(slot) * width + column, values);
  if (query_rope) {  // the query's pairs [first_pair, first_pair + 4) of head `head`
    const int64_t head = (column - width) / rope_dim, first_pair = (column - width) % rope_dim / 2;
    const int64_t offset = (token * query_heads + head) * query_head_dim + query_head_dim - rope_dim + 2 * first_pair;
    float pairs[kVectorValues];
    load_vector(query, query_kind, offset, pairs);
    rotate_four_pairs(pairs, angles, first_pair, rope_dim);
    store_vector(query, query_kind, offset, pairs);
  }
}

// Any shape: one block per new token. Slots and positions are validated by the host-side scheduler; an invalid one
// skips the write (a debug aid would be an error flag, but a kernel cannot throw).
__global__ void __launch_bounds__(kThreads)
    mla_cache_write_kernel(const void* kv_a, FloatKind input_kind, const void* gain, FloatKind gain_kind,
                           int64_t latent_dim, int64_t rope_dim, float epsilon, bool quantize_latent,
                           const int32_t* positions, const float* cos_sin, int64_t max_positions, const int32_t* slots,
                           int64_t total_slots, void* cache, FloatKind cache_kind) {
  extern __shared__ float latent[];  // [latent_dim]: the normed latent before it is stored
  dsinfer::cuda::allow_next_kernel();
  dsinfer::cuda::wait_for_previous_kernel();
  const int64_t token = blockIdx.x, width = latent_dim + rope_dim;
  const int32_t slot = slots[token], position = positions[token];
  const int64_t in = token * width;
  float sum_squares = 0.0f;
  for (int64_t i = threadIdx.x; i < latent_dim; i += kThreads) {
    float value = load_as_float(kv_a, input_kind, in + i);
    sum_squares += value * value;
  }
  const float inverse_rms = rsqrtf(block_sum(sum_squares) / static_cast<float>(latent_dim) + epsilon);
  for (int64_t i = threadIdx.x; i < latent_dim; i += kThreads)
    latent[i] = load_as_float(gain, gain_kind, i) * (load_as_float(kv_a, input_kind, in + i) * inverse_rms);
  __syncthreads();
  if (quantize_latent) {
    // One warp per 128-wide group: amax, then each value to e4m3 and back (q * scale, in double).
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    for (int64_t begin = warp * 128; begin < latent_dim; begin += (kThreads / 32) * 128) {
      const int64_t end = min(begin + 128, latent_dim);
      float amax = 0.0f;
      for (int64_t i = begin + lane; i < end; i += 32) amax = fmaxf(amax, fabsf(latent[i]));
      amax = dsinfer::cuda::warp_max(amax);
      const double scale = fmax(static_cast<double>(amax) / dsinfer::cuda::kFp8E4m3Max, static_cast<double>(1e-10f));
      for (int64_t i = begin + lane; i < end; i += 32) {
        uint8_t code = dsinfer::cuda::float_to_e4m3(static_cast<float>(latent[i] / scale));
        latent[i] = static_cast<float>(dsinfer::cuda::e4m3_to_float(code) * scale);
      }
    }
    __syncthreads();
  }
  if (slot < 0 || slot >= total_slots || position < 0 || position >= max_positions) return;
  const int64_t out = static_cast<int64_t>(slot) * width;
  for (int64_t i = threadIdx.x; i < latent_dim; i += kThreads) store_from_float(cache, cache_kind, out + i, latent[i]);
  const int64_t pairs = rope_dim / 2;
  const float* angles = cos_sin + static_cast<int64_t>(position) * rope_dim;
  for (int64_t pair = threadIdx.x; pair < pairs; pair += kThreads) {
    float a = load_as_float(kv_a, input_kind, in + latent_dim + 2 * pair);
    float b = load_as_float(kv_a, input_kind, in + latent_dim + 2 * pair + 1);
    float cosine = angles[pair], sine = angles[pairs + pair];
    store_from_float(cache, cache_kind, out + latent_dim + 2 * pair, a * cosine - b * sine);
    store_from_float(cache, cache_kind, out + latent_dim + 2 * pair + 1, a * sine + b * cosine);
  }
}
}  // namespace

void mla_cache_write(const Tensor& kv_a, const Tensor& norm_weight, double epsilon, const Tensor& positions,
                     const Tensor& cos_sin, const Tensor& slots, Tensor& kv_cache, bool quantize_latent,
                     Tensor* rope_query) {
  dsinfer::cuda::OpTimer timer("mla_cache_write");
  require_float_dtype("mla_cache_write", kv_a);
  require_float_dtype("mla_cache_write", norm_weight);
  require_float_dtype("mla_cache_write", kv_cache);
  require_dtype("mla_cache_write", cos_sin, DType::kF32);
  const int64_t tokens = kv_a.dim(0);
  if (tokens == 0) return;
  const int64_t latent_dim = norm_weight.dim(0), rope_dim = cos_sin.dim(1), width = latent_dim + rope_dim;
  // The query's rope rides along on the vector kernel (threads after the entry's); elsewhere it is its own launch.
  const int64_t query_heads = rope_query != nullptr ? rope_query->dim(1) : 0;
  const int64_t query_head_dim = rope_query != nullptr ? rope_query->dim(2) : 0;
  const int64_t query_columns = query_heads * rope_dim;
  const bool vector = latent_dim % kVectorValues == 0 && rope_dim % kVectorValues == 0 &&
                      width + query_columns <= kMaxVectorThreads * kVectorValues && vector_aligned(kv_a.data()) &&
                      vector_aligned(norm_weight.data()) && vector_aligned(cos_sin.data()) &&
                      vector_aligned(kv_cache.data()) &&
                      (rope_query == nullptr || (query_head_dim % kVectorValues == 0 && vector_aligned(rope_query->data())));
  if (vector) {
    dsinfer::cuda::launch_kernel("mla_cache_write_kernel", mla_cache_write_vector_kernel, static_cast<unsigned>(tokens),
                                 vector_threads(width + query_columns), 0, dsinfer::cuda::current_stream(), kv_a.data(),
                                 float_kind(kv_a), norm_weight.data(), float_kind(norm_weight), latent_dim, rope_dim,
                                 static_cast<float>(epsilon), quantize_latent, positions.data_as<const int32_t>(),
                                 cos_sin.data_as<const float>(), cos_sin.dim(0), slots.data_as<const int32_t>(),
                                 kv_cache.dim(0) * kv_cache.dim(1), kv_cache.data(), float_kind(kv_cache),
                                 rope_query != nullptr ? rope_query->data() : nullptr,
                                 rope_query != nullptr ? float_kind(*rope_query) : FloatKind::kBf16, query_heads,
                                 query_head_dim);
    return;
  }
  if (rope_query != nullptr) rope(*rope_query, positions, cos_sin);
  const size_t shared_bytes = static_cast<size_t>(latent_dim) * sizeof(float);
  DSINFER_CHECK(shared_bytes <= 48 * 1024, "ops::mla_cache_write on CUDA: kv_lora_rank ", latent_dim,
                " exceeds the 12288 values one block holds");
  dsinfer::cuda::launch_kernel("mla_cache_write_kernel", mla_cache_write_kernel, static_cast<unsigned>(tokens),
                               kThreads, shared_bytes, dsinfer::cuda::current_stream(), kv_a.data(), float_kind(kv_a),
                               norm_weight.data(), float_kind(norm_weight), latent_dim, rope_dim,
                               static_cast<float>(epsilon), quantize_latent, positions.data_as<const int32_t>(),
                               cos_sin.data_as<const float>(), cos_sin.dim(0), slots.data_as<const int32_t>(),
                               kv_cache.dim(0) * kv_cache.dim(1), kv_cache.data(), float_kind(kv_cache));
}

}  // namespace dsinfer::ops::cuda
