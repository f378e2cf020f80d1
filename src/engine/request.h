// What callers hand the engine (GenerationRequest), what it hands back (GenerationUpdate), and the
// scheduler's per-request state (Request). The life of a request:
//   waiting -> running (prefill chunks, then one decode token per step) -> finished,
// with running -> waiting again when it is retracted to free KV pages (its pages are dropped and its
// prompt + output so far is recomputed when it is admitted again).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/radix_cache.h"
#include "engine/random.h"
#include "engine/sampling_params.h"
#include "engine/stop_strings.h"

namespace dsinfer {

using Clock = std::chrono::steady_clock;

// Turns generated token ids into text incrementally (the server wraps the tokenizer's detokenizer).
class TokenTextStream {
 public:
  virtual ~TokenTextStream() = default;
  virtual std::string push(int32_t token_id) = 0;  // text that became final with this token
  virtual std::string finish() = 0;                // the rest (e.g. an incomplete UTF-8 sequence)
};

enum class FinishReason { kNone, kStop, kLength, kAbort, kError };
std::string_view finish_reason_name(FinishReason reason);  // "stop", "length", "abort", "error"

struct TokenLogprob {
  int32_t token_id = 0;
  float logprob = 0.0f;
};

struct GeneratedToken {
  int32_t token_id = 0;
  float logprob = 0.0f;                     // log softmax of the model's raw logits (when requested)
  std::vector<TokenLogprob> top_logprobs;   // most likely alternatives, best first (when requested)
};

// One step's news for one request. The last update of a request has finish_reason != kNone.
struct GenerationUpdate {
  uint64_t request_id = 0;
  std::vector<GeneratedToken> tokens;  // sampled since the last update (including a final EOS / stop token)
  // params.prompt_logprobs: prompt tokens 1, 2, ... (the first has no logprob) with their log probabilities,
  // in order, as the prefill chunks that score them are computed; all of them come before the first token.
  std::vector<GeneratedToken> prompt_logprobs;
  std::string text;                    // new final text; stop strings and stop tokens are not part of it
  FinishReason finish_reason = FinishReason::kNone;
  std::string matched_stop;                   // the stop string that ended the output
  std::optional<int32_t> matched_stop_token;  // or the EOS / stop token id
  std::string error;                          // finish_reason kError: why, for the user
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;  // prompt tokens whose KV came from the prefix cache
};

struct GenerationRequest {
  std::vector<int32_t> prompt;
  SamplingParams params;
  // Requests with the same nonzero group share a prompt (OpenAI `n` > 1): the scheduler prefills one of
  // them first so that the others find the prompt in the prefix cache.
  uint64_t prefix_group = 0;
  std::unique_ptr<TokenTextStream> text;  // null: no text (stop strings then never match)
  // Called on the engine thread; must be quick (hand the update to another thread).
  std::function<void(GenerationUpdate&&)> on_update;
  Clock::time_point arrival = Clock::now();
};

// Scheduler-side state of one request.
struct Request {
  uint64_t id = 0;
  GenerationRequest input;
  std::vector<int32_t> tokens;  // prompt followed by the generated tokens
  int num_prompt_tokens = 0;
  int num_computed_tokens = 0;  // tokens[0, num_computed_tokens) have KV in page_table
  std::vector<int32_t> page_table;       // KV pages in position order
  int num_tree_pages = 0;                // page_table[0, num_tree_pages) belong to the radix cache
  RadixCache::Node* locked_node = nullptr;  // end of the cached prefix this request pins
  int num_cached_prompt_tokens = -1;     // prefix-cache hit at first admission (-1: not admitted yet)
  int prompt_logprobs_end = 1;           // params.prompt_logprobs: prompt tokens [1, this) have been scored
  bool scheduled = false;                // part of the batch being built
  bool finished = false;

  // Sampling and output state.
  Rng rng;
  std::unordered_map<int32_t, int32_t> output_token_counts;  // for frequency / presence penalties
  std::vector<int32_t> unique_prompt_tokens;                  // sorted; for the repetition penalty
  std::optional<StopStringMatcher> stop_matcher;
  GenerationUpdate pending;  // accumulated this step, delivered after sampling
  Clock::time_point last_token_time{};

  int num_output_tokens() const { return static_cast<int>(tokens.size()) - num_prompt_tokens; }
  // Tokens still to feed through the model (1 while decoding; the rest of the prompt while prefilling).
  int num_pending_tokens() const { return static_cast<int>(tokens.size()) - num_computed_tokens; }
  bool is_decoding() const { return num_computed_tokens > 0 && num_pending_tokens() == 1; }
  // Prompt tokens still to score: their logits rows (all_logits) are needed, so no cached prefix may skip them.
  bool needs_prompt_logprobs() const { return input.params.prompt_logprobs && prompt_logprobs_end < num_prompt_tokens; }
};

}  // namespace dsinfer
