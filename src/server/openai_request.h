// Parsing and validating the bodies of /v1/chat/completions, /v1/completions and /generate into a
// GenerationSpec, before any tokenization. Every problem is an ApiError (400 with the offending field
// in `param`); unknown fields are ignored, as OpenAI's API does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/sampling_params.h"

namespace dsinfer::server {

inline constexpr int kMaxChoices = 16;           // "n"
inline constexpr int kMaxPromptsPerRequest = 64;  // a /v1/completions prompt list
inline constexpr int kMaxMessages = 4096;
inline constexpr int kMaxJsonDepth = 64;

enum class ApiKind { kChat, kCompletion, kGenerate };

// A prompt as text or as token ids.
using PromptInput = std::variant<std::string, std::vector<int64_t>>;

struct GenerationSpec {
  ApiKind kind = ApiKind::kChat;
  std::string model;                 // "" when the request names none
  nlohmann::json messages;           // chat: normalised [{"role", "content" (string or null), "tool_calls"?}]
  nlohmann::json tools;              // chat: null or the "tools" array
  std::string tool_choice = "auto";  // "none", "auto", "required" or "function"
  std::string tool_choice_name;      // tool_choice "function": the function's name
  // Chat: what the assistant turn is made to start with (a forced tool call, server/tool_choice.h); it ends the
  // prompt, and the output is parsed as if the model had written it. Set while the prompt is built.
  std::string assistant_prefix;
  nlohmann::json chat_template_kwargs = nlohmann::json::object();
  std::vector<PromptInput> prompts;  // completions / generate (one or more)
  SamplingParams params;             // max_new_tokens is set later from max_tokens and the context
  std::optional<int64_t> max_tokens; // as requested; absent: as many as fit
  int n = 1;
  bool stream = false;
  bool include_usage = false;        // stream_options.include_usage
  bool echo = false;                 // completions: prepend the prompt to the text
  bool skip_special_tokens = true;
  bool separate_reasoning = true;    // chat with --reasoning-parser: reasoning_content apart from content
  int completion_logprobs = 0;       // completions "logprobs": N alternatives (0: none requested)
  // /generate "logprob_start_len" with "return_logprob": prompt logprobs from this position (-1: none).
  int input_logprobs_start = -1;
};

// Parses the body text (malformed JSON, a non-object, or nesting deeper than kMaxJsonDepth: 400).
nlohmann::json parse_json_body(std::string_view body);

// `defaults` fill sampling fields the request leaves out (generation_config.json), then OpenAI's.
GenerationSpec parse_chat_request(const nlohmann::json& body, const GenerationDefaults& defaults);
GenerationSpec parse_completion_request(const nlohmann::json& body, const GenerationDefaults& defaults);
GenerationSpec parse_generate_request(const nlohmann::json& body, const GenerationDefaults& defaults);

// True if `content_type` is application/json (parameters such as charset allowed).
bool is_json_content_type(std::string_view content_type);

}  // namespace dsinfer::server
