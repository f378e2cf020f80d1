#include <algorithm>
#include <vector>

#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/float_rows.h"
#include "ops/cpu/matmul.h"
#include "ops/cpu/rms_norm_row.h"
#include "ops/cpu/rope_pairs.h"

namespace dsinfer::ops::cpu {

void mla_cache_write(const Tensor& kv_a, const Tensor& norm_weight, double epsilon, const Tensor& positions,
                     const Tensor& cos_sin, const Tensor& slots, Tensor& kv_cache, bool quantize_latent) {
  require_f32("mla_cache_write", kv_a);
  require_f32("mla_cache_write", kv_cache);
  const int64_t latent_dim = norm_weight.dim(0), rope_dim = cos_sin.dim(1), width = latent_dim + rope_dim;
  const int64_t total_slots = kv_cache.dim(0) * kv_cache.dim(1);
  std::vector<float> gain(static_cast<size_t>(latent_dim));
  read_as_float(norm_weight, 0, latent_dim, gain.data());
  const float* in = kv_a.data_as<const float>();
  const int32_t* position = positions.data_as<const int32_t>();
  const int32_t* slot = slots.data_as<const int32_t>();
  float* cache = kv_cache.data_as<float>();
  for (int64_t t = 0; t < kv_a.dim(0); ++t) {
    DSINFER_CHECK(slot[t] >= 0 && slot[t] < total_slots, "ops::mla_cache_write: slot ", slot[t], " outside the ",
                  total_slots, " slots of the KV cache");
    DSINFER_CHECK(position[t] >= 0 && position[t] < cos_sin.dim(0), "ops::mla_cache_write: position ", position[t],
                  " outside the rope table of ", cos_sin.dim(0), " positions");
    float* entry = cache + static_cast<int64_t>(slot[t]) * width;
    rms_norm_row(in + t * width, gain.data(), latent_dim, epsilon, entry);
    if (quantize_latent) fake_quantize_fp8_groups(entry, 1, latent_dim, entry);
    std::copy_n(in + t * width + latent_dim, rope_dim, entry + latent_dim);
    rotate_pairs(entry + latent_dim, cos_sin.data_as<const float>() + position[t] * rope_dim, rope_dim);
  }
}

}  // namespace dsinfer::ops::cpu
