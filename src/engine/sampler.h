// Picks the next token of one request from its logits row. Order of operations (as vLLM / SGLang):
//   logit_bias -> min_tokens mask (EOS and stop tokens) -> repetition, frequency and presence penalties
//   -> temperature (0: argmax) -> top_k -> top_p -> min_p -> draw from the request's own RNG.
// Log probabilities are those of the model's raw logits (before any of the above), as vLLM reports them.
// One inverse-CDF draw per token over candidates in a fixed order keeps a seeded request reproducible.
#pragma once

#include <cstdint>
#include <span>

#include "engine/request.h"

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

}  // namespace dsinfer
