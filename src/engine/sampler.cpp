#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace dsinfer {
namespace {

constexpr float kNegativeInfinity = -std::numeric_limits<float>::infinity();

// Ties are broken towards the lower token id, everywhere, so that results never depend on the
// order in which a partial sort happened to leave equal values.
struct Better {
  std::span<const float> values;
  bool operator()(int32_t a, int32_t b) const {
    return values[a] > values[b] || (values[a] == values[b] && a < b);
  }
};

// The first largest logit; NaN never wins (token 0 if every logit is NaN).
int32_t argmax(std::span<const float> logits) {
  int32_t best = 0;
  float best_value = -std::numeric_limits<float>::infinity();
  for (int32_t token = 0; token < static_cast<int32_t>(logits.size()); ++token) {
    if (logits[token] > best_value) {
      best_value = logits[token];
      best = token;
    }
  }
  return best;
}

// Remembers the raw value of every logit the processors change, so that log probabilities can be
// reported on the raw distribution without copying the whole row.
class LogitEditor {
 public:
  explicit LogitEditor(std::span<float> logits) : logits_(logits) {}
  void set(int32_t token, float value) {
    originals_.push_back({token, logits_[token]});
    logits_[token] = value;
  }
  float raw(int32_t token) const {
    for (const auto& original : originals_)
      if (original.token_id == token) return original.logprob;
    return logits_[token];
  }

 private:
  std::span<float> logits_;
  std::vector<TokenLogprob> originals_;  // (token, raw logit), first change first
};

void apply_processors(std::span<float> logits, LogitEditor& editor, const SamplerInput& input) {
  const SamplingParams& params = input.params;
  for (const auto& [token, bias] : params.logit_bias) editor.set(token, logits[token] + bias);
  if (input.num_output_tokens < params.min_new_tokens) {
    if (!params.ignore_eos)
      for (int32_t token : input.eos_token_ids) editor.set(token, kNegativeInfinity);
    for (int32_t token : params.stop_token_ids) editor.set(token, kNegativeInfinity);
  }
  if (params.repetition_penalty != 1.0f) {
    const float penalty = params.repetition_penalty;
    auto penalize = [&](int32_t token) {
      const float value = logits[token];
      editor.set(token, value > 0 ? value / penalty : value * penalty);
    };
    for (int32_t token : input.unique_prompt_tokens) penalize(token);
    for (const auto& [token, count] : input.output_token_counts) {
      if (!std::binary_search(input.unique_prompt_tokens.begin(), input.unique_prompt_tokens.end(), token))
        penalize(token);
    }
  }
  if (params.frequency_penalty != 0.0f || params.presence_penalty != 0.0f) {
    for (const auto& [token, count] : input.output_token_counts) {
      editor.set(token, logits[token] - params.frequency_penalty * static_cast<float>(count) -
                            params.presence_penalty);
    }
  }
}

// Samples from softmax(logits / temperature) restricted by top_k, top_p and min_p.
int32_t sample_filtered(std::span<const float> logits, const SamplingParams& params, Rng& rng) {
  thread_local std::vector<int32_t> candidates;
  thread_local std::vector<float> weights;
  const int32_t vocab = static_cast<int32_t>(logits.size());
  const int32_t best = argmax(logits);
  const float max_logit = logits[best];
  if (!std::isfinite(max_logit)) return best;

  candidates.resize(static_cast<size_t>(vocab));
  for (int32_t token = 0; token < vocab; ++token) candidates[token] = token;
  size_t count = candidates.size();
  Better better{logits};
  if (params.top_k > 0 && params.top_k < vocab) {
    std::nth_element(candidates.begin(), candidates.begin() + params.top_k, candidates.end(), better);
    count = static_cast<size_t>(params.top_k);
  }

  // Unnormalised probabilities exp((logit - max) / T); the best token has weight 1.
  weights.resize(static_cast<size_t>(vocab));
  const float inverse_temperature = 1.0f / params.temperature;
  double total = 0.0;
  for (size_t i = 0; i < count; ++i) {
    const int32_t token = candidates[i];
    weights[token] = std::exp((logits[token] - max_logit) * inverse_temperature);
    total += weights[token];
  }

  bool sorted = false;
  if (params.top_p < 1.0f) {
    // Sort only as far as needed: grow the sorted head until it holds top_p of the mass.
    const double target = params.top_p * total;
    Better heavier{weights};
    size_t head = std::min<size_t>(count, 64);
    for (;;) {
      std::partial_sort(candidates.begin(), candidates.begin() + head, candidates.begin() + count, heavier);
      double mass = 0.0;
      size_t kept = 0;
      while (kept < head && mass < target) mass += weights[candidates[kept++]];
      if (mass >= target || head == count) {
        count = kept;
        break;
      }
      head = std::min(count, head * 8);
    }
    sorted = true;
  }
  if (params.min_p > 0.0f) {
    // The best token's weight is exactly 1, so the threshold is min_p itself.
    auto end = std::remove_if(candidates.begin(), candidates.begin() + count,
                              [&](int32_t token) { return weights[token] < params.min_p; });
    count = static_cast<size_t>(end - candidates.begin());
  }
  if (!sorted) std::sort(candidates.begin(), candidates.begin() + count);  // a fixed order: by token id

  double kept_total = 0.0;
  for (size_t i = 0; i < count; ++i) kept_total += weights[candidates[i]];
  if (!(kept_total > 0.0)) return best;
  const double threshold = rng.uniform() * kept_total;
  double cumulative = 0.0;
  for (size_t i = 0; i < count; ++i) {
    cumulative += weights[candidates[i]];
    if (cumulative > threshold) return candidates[i];
  }
  return candidates[count - 1];
}

}  // namespace

GeneratedToken sample_token(std::span<float> logits, const SamplerInput& input) {
  const SamplingParams& params = input.params;
  const bool want_logprobs = params.logprobs || params.top_logprobs > 0;
  GeneratedToken result;

  // Raw log-softmax statistics, taken before any processor touches the row.
  float raw_max = 0.0f;
  double raw_log_sum = 0.0;
  if (want_logprobs) {
    raw_max = *std::max_element(logits.begin(), logits.end());
    double sum = 0.0;
    for (float value : logits) sum += std::exp(static_cast<double>(value) - raw_max);
    raw_log_sum = std::log(sum);
    if (params.top_logprobs > 0) {
      thread_local std::vector<int32_t> order;
      order.resize(logits.size());
      for (size_t token = 0; token < logits.size(); ++token) order[token] = static_cast<int32_t>(token);
      const size_t top = std::min(order.size(), static_cast<size_t>(params.top_logprobs));
      std::partial_sort(order.begin(), order.begin() + top, order.end(), Better{logits});
      for (size_t i = 0; i < top; ++i) {
        result.top_logprobs.push_back(
            {order[i], static_cast<float>(logits[order[i]] - raw_max - raw_log_sum)});
      }
    }
  }

  LogitEditor editor(logits);
  apply_processors(logits, editor, input);
  result.token_id = params.temperature == 0.0f ? argmax(logits) : sample_filtered(logits, params, input.rng);
  if (want_logprobs) {
    result.logprob = static_cast<float>(editor.raw(result.token_id) - raw_max - raw_log_sum);
  }
  return result;
}

}  // namespace dsinfer
