// The chat template of a model: tokenizer_config.json's Jinja "chat_template" (or another file), rendered
// like Hugging Face transformers' apply_chat_template(messages, tools=..., add_generation_prompt=...,
// **extra).
//
// Deliberate difference from HF: text that comes from the request (messages, tools, extra context) is tagged
// user-supplied, and build_chat_prompt encodes it without matching added tokens, so a message containing
// "<｜User｜>" cannot forge a turn. HF encodes the rendered string as a whole and would produce the control
// token. The rendered text itself is identical.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "text/jinja/builtins.h"
#include "text/prompt_segment.h"
#include "text/tokenizer.h"

namespace dsinfer::text {

namespace jinja {
struct ParsedTemplate;
}

// The JSON type of a call's first argument, not deduced from the others (so that nullptr converts to it).
template <typename Json>
using SameJson = std::type_identity_t<Json>;

class ChatTemplate {
 public:
  // DIR/tokenizer_config.json's chat_template (a string, or the entry named "default" of a list), with its
  // bos_token and eos_token.
  static ChatTemplate from_tokenizer_config(const std::string& model_dir);
  // A template file (the server's --chat-template); bos_token / eos_token come from model_dir's
  // tokenizer_config.json when model_dir is given, else they are "".
  static ChatTemplate from_file(const std::string& path, const std::string& model_dir = "");
  // `name` appears in error messages.
  static ChatTemplate from_string(std::string source, std::string name, std::string bos_token,
                                  std::string eos_token, const jinja::RenderLimits& limits = {});

  // The prompt text. messages: array of {"role", "content", ...}; tools: array or null; extra_context: object
  // (e.g. chat_template_kwargs) or null, its keys become template variables. Json is nlohmann::json or
  // nlohmann::ordered_json; only the latter keeps the request's key order where a template prints a dict
  // (tojson), as Python does.
  template <typename Json>
  std::string render(const Json& messages, const SameJson<Json>& tools, bool add_generation_prompt,
                     const SameJson<Json>& extra_context) const;
  // The same text, split into template and user-supplied segments.
  template <typename Json>
  std::vector<PromptSegment> render_segments(const Json& messages, const SameJson<Json>& tools,
                                             bool add_generation_prompt,
                                             const SameJson<Json>& extra_context) const;

  const jinja::RenderLimits& limits() const { return limits_; }

 private:
  ChatTemplate() = default;
  std::shared_ptr<const jinja::ParsedTemplate> parsed_;
  std::string bos_token_, eos_token_;
  jinja::RenderLimits limits_;
};

// A chat request as text and token ids (no BOS is added: the template writes bos_token itself).
struct ChatPrompt {
  std::string text;
  std::vector<int32_t> ids;
};
template <typename Json>
ChatPrompt build_chat_prompt(const ChatTemplate& chat_template, const Tokenizer& tokenizer,
                             const Json& messages, const SameJson<Json>& tools, bool add_generation_prompt,
                             const SameJson<Json>& extra_context);

}  // namespace dsinfer::text
