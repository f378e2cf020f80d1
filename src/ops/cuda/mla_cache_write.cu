// MLA cache write: entry = [rms_norm(kv_a[:latent]) * gain | rope(kv_a[latent:])] into the token's slot; with
// quantize_latent the latent is first rounded through e4m3 per 1x128 group (scale in double), as kv_b_proj's
// W8A8 input sees it, so absorbed decode attends to the latents the un-absorbed path expands.
#include "kernels/common/launch.cuh"
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
                     const Tensor& cos_sin, const Tensor& slots, Tensor& kv_cache, bool quantize_latent) {
  dsinfer::cuda::OpTimer timer("mla_cache_write");
  require_float_dtype("mla_cache_write", kv_a);
  require_float_dtype("mla_cache_write", norm_weight);
  require_float_dtype("mla_cache_write", kv_cache);
  require_dtype("mla_cache_write", cos_sin, DType::kF32);
  const int64_t tokens = kv_a.dim(0);
  if (tokens == 0) return;
  const size_t shared_bytes = static_cast<size_t>(norm_weight.dim(0)) * sizeof(float);
  DSINFER_CHECK(shared_bytes <= 48 * 1024, "ops::mla_cache_write on CUDA: kv_lora_rank ", norm_weight.dim(0),
                " exceeds the 12288 values one block holds");
  dsinfer::cuda::launch_kernel("mla_cache_write_kernel", mla_cache_write_kernel, static_cast<unsigned>(tokens),
                               kThreads, shared_bytes, dsinfer::cuda::current_stream(), kv_a.data(), float_kind(kv_a),
                               norm_weight.data(), float_kind(norm_weight), norm_weight.dim(0), cos_sin.dim(1),
                               static_cast<float>(epsilon), quantize_latent, positions.data_as<const int32_t>(),
                               cos_sin.data_as<const float>(), cos_sin.dim(0), slots.data_as<const int32_t>(),
                               kv_cache.dim(0) * kv_cache.dim(1), kv_cache.data(), float_kind(kv_cache));
}

}  // namespace dsinfer::ops::cuda
