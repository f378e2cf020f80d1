// MLA cache write: entry = [rms_norm(kv_a[:latent]) * gain | rope(kv_a[latent:])] into the token's slot.
#include "kernels/runtime/op_timing.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/cuda_ops.h"

namespace dsinfer::ops::cuda {

namespace {
constexpr int kThreads = 256;

// One block per new token. Slots and positions are validated by the host-side scheduler; an invalid one
// skips the write (a debug aid would be an error flag, but a kernel cannot throw).
__global__ void __launch_bounds__(kThreads)
    mla_cache_write_kernel(const void* kv_a, FloatKind input_kind, const void* gain, FloatKind gain_kind,
                           int64_t latent_dim, int64_t rope_dim, float epsilon, const int32_t* positions,
                           const float* cos_sin, int64_t max_positions, const int32_t* slots, int64_t total_slots,
                           void* cache, FloatKind cache_kind) {
  const int64_t token = blockIdx.x, width = latent_dim + rope_dim;
  const int32_t slot = slots[token], position = positions[token];
  const int64_t in = token * width;
  float sum_squares = 0.0f;
  for (int64_t i = threadIdx.x; i < latent_dim; i += kThreads) {
    float value = load_as_float(kv_a, input_kind, in + i);
    sum_squares += value * value;
  }
  const float inverse_rms = rsqrtf(block_sum(sum_squares) / static_cast<float>(latent_dim) + epsilon);
  if (slot < 0 || slot >= total_slots || position < 0 || position >= max_positions) return;
  const int64_t out = static_cast<int64_t>(slot) * width;
  for (int64_t i = threadIdx.x; i < latent_dim; i += kThreads)
    store_from_float(cache, cache_kind, out + i,
                     load_as_float(gain, gain_kind, i) * (load_as_float(kv_a, input_kind, in + i) * inverse_rms));
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
                     const Tensor& cos_sin, const Tensor& slots, Tensor& kv_cache) {
  dsinfer::cuda::OpTimer timer("mla_cache_write");
  require_float_dtype("mla_cache_write", kv_a);
  require_float_dtype("mla_cache_write", norm_weight);
  require_float_dtype("mla_cache_write", kv_cache);
  require_dtype("mla_cache_write", cos_sin, DType::kF32);
  const int64_t tokens = kv_a.dim(0);
  if (tokens == 0) return;
  mla_cache_write_kernel<<<static_cast<unsigned>(tokens), kThreads, 0, dsinfer::cuda::current_stream()>>>(
      kv_a.data(), float_kind(kv_a), norm_weight.data(), float_kind(norm_weight), norm_weight.dim(0), cos_sin.dim(1),
      static_cast<float>(epsilon), positions.data_as<const int32_t>(), cos_sin.data_as<const float>(), cos_sin.dim(0),
      slots.data_as<const int32_t>(), kv_cache.dim(0) * kv_cache.dim(1), kv_cache.data(), float_kind(kv_cache));
  DSINFER_CUDA_CHECK_LAUNCH("mla_cache_write_kernel");
}

}  // namespace dsinfer::ops::cuda
