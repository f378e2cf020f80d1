#include "model/rope_table.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "core/error.h"

namespace dsinfer {

namespace {

double yarn_mscale(double factor, double mscale) { return factor <= 1.0 ? 1.0 : 0.1 * mscale * std::log(factor) + 1.0; }

}  // namespace

Tensor build_rope_table(const ModelConfig& config, int64_t max_positions) {
  const int64_t dim = config.qk_rope_head_dim, pairs = dim / 2;
  DSINFER_CHECK(dim > 0 && dim % 2 == 0, "config: qk_rope_head_dim ", dim, " must be positive and even");
  const double base = config.rope_theta;
  std::vector<double> inverse_frequency(static_cast<size_t>(pairs));
  for (int64_t i = 0; i < pairs; ++i) inverse_frequency[i] = 1.0 / std::pow(base, static_cast<double>(2 * i) / dim);
  double attention_scale = 1.0;
  const RopeScaling& yarn = config.rope_scaling;
  if (yarn.yarn) {
    // Dimensions rotating faster than beta_fast turns over the original context keep their frequency, those
    // slower than beta_slow are interpolated by `factor`, with a linear ramp between.
    auto correction_dim = [&](double rotations) {
      return dim * std::log(yarn.original_max_position_embeddings / (rotations * 2 * std::numbers::pi)) / (2 * std::log(base));
    };
    double low = std::max(std::floor(correction_dim(yarn.beta_fast)), 0.0);
    double high = std::min(std::ceil(correction_dim(yarn.beta_slow)), static_cast<double>(dim - 1));
    if (low == high) high += 0.001;
    for (int64_t i = 0; i < pairs; ++i) {
      double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
      double keep = 1.0 - ramp;
      inverse_frequency[i] = inverse_frequency[i] / yarn.factor * (1.0 - keep) + inverse_frequency[i] * keep;
    }
    attention_scale = yarn.mscale_all_dim != 0.0
                          ? yarn_mscale(yarn.factor, yarn.mscale) / yarn_mscale(yarn.factor, yarn.mscale_all_dim)
                          : yarn_mscale(yarn.factor, yarn.mscale);
  }
  Tensor table = Tensor::empty({max_positions, dim}, DType::kF32);
  float* rows = table.data_as<float>();
  for (int64_t p = 0; p < max_positions; ++p) {
    for (int64_t i = 0; i < pairs; ++i) {
      double angle = static_cast<double>(p) * inverse_frequency[i];
      rows[p * dim + i] = static_cast<float>(std::cos(angle) * attention_scale);
      rows[p * dim + pairs + i] = static_cast<float>(std::sin(angle) * attention_scale);
    }
  }
  return table;
}

}  // namespace dsinfer
