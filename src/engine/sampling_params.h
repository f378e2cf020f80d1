// Per-request sampling parameters, their limits, and the defaults a model ships in
// generation_config.json. The server fills SamplingParams from an OpenAI / SGLang request; the engine
// checks them again (check_sampling_params) so that no caller can hand it a value the sampler cannot use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dsinfer {

// Upper bounds on request fields whose cost grows with their value (each a 400, never a crash).
inline constexpr int kMaxTopLogprobs = 20;         // OpenAI's limit for top_logprobs
inline constexpr int kMaxStopStrings = 16;         // entries in "stop"
inline constexpr int kMaxStopStringBytes = 1024;   // length of one stop string
inline constexpr int kMaxStopTokenIds = 256;       // entries in "stop_token_ids"
inline constexpr int kMaxLogitBiasEntries = 1024;  // keys in "logit_bias"

struct SamplingParams {
  float temperature = 1.0f;         // 0: greedy (argmax); otherwise in (0, 100]
  float top_p = 1.0f;               // (0, 1]: smallest set of tokens whose probability reaches top_p
  int top_k = -1;                   // -1 (or 0): no limit; else keep the k most likely tokens
  float min_p = 0.0f;               // [0, 1]: drop tokens below min_p * (probability of the best token)
  float frequency_penalty = 0.0f;   // [-2, 2], subtracted once per earlier occurrence in the output
  float presence_penalty = 0.0f;    // [-2, 2], subtracted once if the token occurs in the output
  float repetition_penalty = 1.0f;  // (0, 2]: logits of prompt or output tokens divided (> 0) or multiplied
  std::vector<std::pair<int32_t, float>> logit_bias;  // token id -> bias in [-100, 100], added to the logit
  std::optional<uint64_t> seed;     // same seed, same prompt, same parameters: same output
  int max_new_tokens = 16;          // >= 1
  int min_new_tokens = 0;           // EOS and stop_token_ids are masked until this many tokens exist
  std::vector<std::string> stop;    // stop strings, matched in the detokenized output across token boundaries
  std::vector<int32_t> stop_token_ids;  // finish when one of these is sampled (it is not part of the text)
  bool ignore_eos = false;          // keep going after the model's EOS token
  bool logprobs = false;            // report the chosen token's log probability
  int top_logprobs = 0;             // and this many alternatives, [0, kMaxTopLogprobs]
  bool prompt_logprobs = false;     // also report prompt tokens 1.. with their top_logprobs (completions echo)
};

// Defaults from a model's generation_config.json (fields the file leaves out stay unset).
struct GenerationDefaults {
  std::optional<float> temperature;
  std::optional<float> top_p;
  std::optional<int> top_k;
  std::optional<float> min_p;
  std::optional<float> repetition_penalty;
  std::vector<int32_t> eos_token_ids;  // "eos_token_id": one id or a list
  bool do_sample = true;               // false: the model's authors ask for greedy decoding by default
};

// Reads model_dir/generation_config.json; a missing file gives empty defaults, a malformed one an Error
// naming the file and field.
GenerationDefaults load_generation_defaults(const std::string& model_dir);

// A parameter that is out of range: `param` is the request field name (e.g. "top_p").
struct ParameterProblem {
  std::string param;
  std::string message;
};

// Checks every field against its documented range (NaN and infinities are out of range) and token ids
// against the vocabulary. Returns the first problem found.
std::optional<ParameterProblem> check_sampling_params(const SamplingParams& params, int64_t vocab_size);

}  // namespace dsinfer
