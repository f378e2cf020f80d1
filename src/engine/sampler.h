// The sampler: how each request's next token is chosen. Two routes, chosen per token from the request's own
// parameters and state alone (never from the batch it happens to share), so a seeded request repeats:
//
// Host route (sample_token), every token on a CPU backend and, on a device backend, every token that needs more
// than the device route offers. Order of operations (as vLLM / SGLang):
//   logit_bias -> min_tokens mask (EOS and stop tokens) -> repetition, frequency and presence penalties
//   -> temperature (0: argmax) -> top_k -> top_p -> min_p -> draw from the request's own RNG.
// Log probabilities are those of the model's raw logits (before any of the above), as vLLM reports them.
// One inverse-CDF draw per token over candidates in a fixed order keeps a seeded request reproducible.
//
// Device route (DeviceSamplingPlan), on a backend that samples on the device (ModelBackend::samples_on_device):
// a token that needs nothing beyond temperature, top_k and top_p (device_samplable) is drawn by ops::sample_tokens'
// rule on the model's device, so only its id crosses to the host. Its seed is the request RNG's next output,
// so it also repeats for a seeded request (greedy tokens take no seed, as on the host).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/request.h"
#include "model/model_runner.h"

namespace dsinfer {

struct SamplerInput {
  const SamplingParams& params;
  std::span<const int32_t> unique_prompt_tokens;  // sorted, for repetition_penalty
  const std::unordered_map<int32_t, int32_t>& output_token_counts;
  int num_output_tokens = 0;                    // for min_new_tokens
  std::span<const int32_t> eos_token_ids;       // masked, with stop_token_ids, until min_new_tokens
  Rng& rng;
};

// `logits` is [vocab] and is modified in place. Thread-safe for distinct rows / requests.
GeneratedToken sample_token(std::span<float> logits, const SamplerInput& input);

// The raw log-softmax of `token_id` in `logits` [vocab] and the `top_logprobs` most likely tokens (best first, ties:
// lower id): what is reported for a prompt token (completions `echo` with `logprobs`).
GeneratedToken score_token(std::span<const float> logits, int32_t token_id, int top_logprobs);

// True when the next token (the request has `num_output_tokens` so far) needs nothing beyond temperature, top_k
// and top_p: no logit_bias, penalties, min_p, logprobs, nor a min_tokens mask at this position.
bool device_samplable(const SamplingParams& params, int num_output_tokens);

// The device-route rows of one step: the per-row parameters of ops::sample_tokens and, after the forward, the ids.
// Rows not routed are greedy placeholders whose ids are ignored. Reuses its buffers from step to step.
class DeviceSamplingPlan {
 public:
  // A step whose forward returns `num_logit_rows` rows, none routed yet.
  void reset(size_t num_logit_rows);
  // Routes the token of logits row `row` to the device when device_samplable; a non-greedy token takes its seed
  // from `rng` (one draw, as the host route's). Returns whether it was routed.
  bool route(size_t row, const SamplingParams& params, int num_output_tokens, Rng& rng);
  bool empty() const { return num_routed_ == 0; }
  // For the forward; its ids are written back into this plan.
  const DeviceSampling& rows() const { return rows_; }
  int32_t token(size_t row) const { return ids_[row]; }

 private:
  std::vector<float> temperature_, top_p_;
  std::vector<int32_t> top_k_, ids_;
  std::vector<uint64_t> seeds_;
  DeviceSampling rows_;
  size_t num_routed_ = 0;
};

}  // namespace dsinfer
