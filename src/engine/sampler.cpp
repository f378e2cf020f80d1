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

// The first largest logit; NaN never wins (token 0 if every logit is NaN). Sixteen independent lanes let
// the compiler vectorise the scan, which matters at 129k logits per row.
int32_t argmax(std::span<const float> logits) {
  constexpr int32_t kLanes = 16;
  const int32_t count = static_cast<int32_t>(logits.size());
  float lane_values[kLanes];
  int32_t lane_tokens[kLanes];
  for (int32_t lane = 0; lane < kLanes; ++lane) {
    lane_values[lane] = -std::numeric_limits<float>::infinity();
    lane_tokens[lane] = 0;
  }
  int32_t token = 0;
  for (; token + kLanes <= count; token += kLanes) {
    for (int32_t lane = 0; lane < kLanes; ++lane) {
      const bool better = logits[token + lane] > lane_values[lane];
      lane_values[lane] = better ? logits[token + lane] : lane_values[lane];
      lane_tokens[lane] = better ? token + lane : lane_tokens[lane];
    }
  }
  float best_value = -std::numeric_limits<float>::infinity();
  int32_t best = 0;
  for (int32_t lane = 0; lane < kLanes; ++lane) {
    if (lane_values[lane] > best_value || (lane_values[lane] == best_value && lane_tokens[lane] < best)) {
      best_value = lane_values[lane];
      best = lane_tokens[lane];
    }
  }
  for (; token < count; ++token) {
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

// log_softmax(x)[t] = x[t] - max - log(sum(exp(x - max))), the sum in double.
struct LogSoftmax {
  float max = 0.0f;
  double log_sum = 0.0;
  float of(float logit) const { return static_cast<float>(logit - max - log_sum); }
};

LogSoftmax log_softmax_of(std::span<const float> logits) {
  LogSoftmax result;
  result.max = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float value : logits) sum += std::exp(static_cast<double>(value) - result.max);
  result.log_sum = std::log(sum);
  return result;
}

// The `count` most likely tokens with their log probabilities, best first (ties: lower id).
std::vector<TokenLogprob> most_likely(std::span<const float> logits, const LogSoftmax& log_softmax, int count) {
  std::vector<TokenLogprob> result;
  if (count <= 0) return result;
  thread_local std::vector<int32_t> order;
  order.resize(logits.size());
  for (size_t token = 0; token < logits.size(); ++token) order[token] = static_cast<int32_t>(token);
  const size_t top = std::min(order.size(), static_cast<size_t>(count));
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(), Better{logits});
  result.reserve(top);
  for (size_t i = 0; i < top; ++i) result.push_back({order[i], log_softmax.of(logits[static_cast<size_t>(order[i])])});
  return result;
}

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

// Reorders candidates[0, count) so that its first n entries are the heaviest (ties: lower id first) and
// together reach `target`, with n as small as possible; returns n. Quickselect: expected linear time, where
// sorting a flat distribution over a 129k vocabulary would cost milliseconds per token.
size_t heaviest_prefix_reaching(std::vector<int32_t>& candidates, size_t count, std::span<const float> weights,
                                double target) {
  const Better heavier{weights};
  size_t low = 0;       // candidates[0, low) are in the answer
  size_t high = count;  // the answer ends in (low, high]; candidates[high, count) are lighter than the rest
  double kept_mass = 0.0;
  while (high - low > 32) {
    const size_t middle = low + (high - low) / 2;
    std::nth_element(candidates.begin() + static_cast<std::ptrdiff_t>(low), candidates.begin() + static_cast<std::ptrdiff_t>(middle),
                     candidates.begin() + static_cast<std::ptrdiff_t>(high), heavier);
    double mass = 0.0;
    for (size_t i = low; i < middle; ++i) mass += weights[candidates[i]];
    if (kept_mass + mass >= target) {
      high = middle;
    } else {
      kept_mass += mass;
      low = middle;
    }
  }
  std::sort(candidates.begin() + static_cast<std::ptrdiff_t>(low), candidates.begin() + static_cast<std::ptrdiff_t>(high), heavier);
  size_t end = low;
  while (end < high && kept_mass < target) kept_mass += weights[candidates[end++]];
  return std::max<size_t>(end, 1);
}

// Samples from softmax(logits / temperature) restricted by top_k, top_p and min_p, in time linear in the
// vocabulary. The draw walks the kept tokens in id order, so it does not depend on how selection ordered them.
int32_t sample_filtered(std::span<const float> logits, const SamplingParams& params, Rng& rng) {
  thread_local std::vector<int32_t> candidates;
  thread_local std::vector<float> weights;
  thread_local std::vector<uint8_t> kept;
  const int32_t vocab = static_cast<int32_t>(logits.size());
  const int32_t best = argmax(logits);
  const float max_logit = logits[best];
  if (!std::isfinite(max_logit)) return best;

  candidates.resize(static_cast<size_t>(vocab));
  for (int32_t token = 0; token < vocab; ++token) candidates[token] = token;
  size_t count = candidates.size();
  if (params.top_k > 0 && params.top_k < vocab) {
    std::nth_element(candidates.begin(), candidates.begin() + params.top_k, candidates.end(), Better{logits});
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
  if (params.top_p < 1.0f) count = heaviest_prefix_reaching(candidates, count, weights, params.top_p * total);

  // min_p: the best token's weight is exactly 1, so the threshold is min_p itself.
  kept.assign(static_cast<size_t>(vocab), 0);
  double kept_total = 0.0;
  for (size_t i = 0; i < count; ++i) {
    const int32_t token = candidates[i];
    if (weights[token] >= params.min_p) {
      kept[token] = 1;
      kept_total += weights[token];
    }
  }
  if (!(kept_total > 0.0)) return best;
  const double threshold = rng.uniform() * kept_total;
  double cumulative = 0.0;
  int32_t last = best;
  for (int32_t token = 0; token < vocab; ++token) {
    if (!kept[token]) continue;
    cumulative += weights[token];
    last = token;
    if (cumulative > threshold) return token;
  }
  return last;
}

}  // namespace

GeneratedToken sample_token(std::span<float> logits, const SamplerInput& input) {
  const SamplingParams& params = input.params;
  const bool want_logprobs = params.logprobs || params.top_logprobs > 0;
  GeneratedToken result;

  // Raw log-softmax statistics, taken before any processor touches the row.
  LogSoftmax raw;
  if (want_logprobs) {
    raw = log_softmax_of(logits);
    result.top_logprobs = most_likely(logits, raw, params.top_logprobs);
  }

  LogitEditor editor(logits);
  apply_processors(logits, editor, input);
  result.token_id = params.temperature == 0.0f ? argmax(logits) : sample_filtered(logits, params, input.rng);
  if (want_logprobs) result.logprob = raw.of(editor.raw(result.token_id));
  return result;
}

GeneratedToken score_token(std::span<const float> logits, int32_t token_id, int top_logprobs) {
  const LogSoftmax raw = log_softmax_of(logits);
  GeneratedToken result;
  result.token_id = token_id;
  result.logprob = raw.of(logits[static_cast<size_t>(token_id)]);
  result.top_logprobs = most_likely(logits, raw, top_logprobs);
  return result;
}

bool device_samplable(const SamplingParams& params, int num_output_tokens) {
  return params.logit_bias.empty() && params.repetition_penalty == 1.0f && params.frequency_penalty == 0.0f &&
         params.presence_penalty == 0.0f && params.min_p == 0.0f && !params.logprobs && params.top_logprobs == 0 &&
         num_output_tokens >= params.min_new_tokens;
}

void DeviceSamplingPlan::reset(size_t num_logit_rows) {
  temperature_.assign(num_logit_rows, 0.0f);
  top_k_.assign(num_logit_rows, 0);
  top_p_.assign(num_logit_rows, 1.0f);
  seeds_.assign(num_logit_rows, 0);
  ids_.assign(num_logit_rows, 0);
  rows_ = DeviceSampling{temperature_, top_k_, top_p_, seeds_, ids_};
  num_routed_ = 0;
}

bool DeviceSamplingPlan::route(size_t row, const SamplingParams& params, int num_output_tokens, Rng& rng) {
  if (!device_samplable(params, num_output_tokens)) return false;
  temperature_[row] = params.temperature;
  top_k_[row] = params.top_k;
  top_p_[row] = params.top_p;
  seeds_[row] = params.temperature == 0.0f ? 0 : rng.next();
  ++num_routed_;
  return true;
}

}  // namespace dsinfer
