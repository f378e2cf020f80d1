#include "text/chat_template.h"

#include "core/error.h"
#include "text/files.h"
#include "text/jinja/interpreter.h"
#include "text/jinja/parser.h"
#include "text/utf8.h"

namespace dsinfer::text {
namespace {

struct SpecialTokens {
  std::string bos_token, eos_token;
};

SpecialTokens read_special_tokens(const nlohmann::json& config, const std::string& path) {
  return {special_token_content(config, "bos_token", path), special_token_content(config, "eos_token", path)};
}

std::string select_template(const nlohmann::json& config, const std::string& path) {
  DSINFER_CHECK(config.contains("chat_template") && !config["chat_template"].is_null(), path,
                " has no \"chat_template\"; give a template file instead (--chat-template FILE)");
  const auto& entry = config["chat_template"];
  if (entry.is_string()) return entry.get<std::string>();
  DSINFER_CHECK(entry.is_array(), path,
                ": \"chat_template\" must be a string or a list of {\"name\", \"template\"}");
  std::string names;
  for (const auto& named : entry) {
    if (named.is_object() && named.value("name", "") == "default" && named.contains("template") &&
        named["template"].is_string()) {
      return named["template"].get<std::string>();
    }
    names += ' ';
    names += named.is_object() ? named.value("name", "?") : std::string("?");
  }
  fail(path, ": \"chat_template\" is a list without an entry named \"default\" (it has:", names, ")");
}

}  // namespace

ChatTemplate ChatTemplate::from_tokenizer_config(const std::string& model_dir) {
  const std::string path = model_dir + "/tokenizer_config.json";
  const nlohmann::json config = read_json_file(path);
  const SpecialTokens tokens = read_special_tokens(config, path);
  return from_string(select_template(config, path), "chat template (" + path + ")", tokens.bos_token,
                     tokens.eos_token);
}

ChatTemplate ChatTemplate::from_file(const std::string& path, const std::string& model_dir) {
  SpecialTokens tokens;
  if (!model_dir.empty()) {
    const std::string config_path = model_dir + "/tokenizer_config.json";
    tokens = read_special_tokens(read_json_file(config_path), config_path);
  }
  return from_string(read_text_file(path), "chat template " + path, tokens.bos_token, tokens.eos_token);
}

ChatTemplate ChatTemplate::from_string(std::string source, std::string name, std::string bos_token,
                                       std::string eos_token, const jinja::RenderLimits& limits) {
  DSINFER_CHECK(find_invalid_utf8(source) == std::string::npos, name, " is not valid UTF-8");
  ChatTemplate result;
  result.parsed_ = jinja::parse_template(std::move(source), std::move(name), limits.max_nesting_depth);
  result.bos_token_ = std::move(bos_token);
  result.eos_token_ = std::move(eos_token);
  result.limits_ = limits;
  return result;
}

template <typename Json>
std::string ChatTemplate::render(const Json& messages, const SameJson<Json>& tools,
                                 bool add_generation_prompt, const SameJson<Json>& extra_context) const {
  std::string text;
  for (const PromptSegment& segment :
       render_segments(messages, tools, add_generation_prompt, extra_context)) {
    text += segment.text;
  }
  return text;
}

template <typename Json>
std::vector<PromptSegment> ChatTemplate::render_segments(const Json& messages, const SameJson<Json>& tools,
                                                         bool add_generation_prompt,
                                                         const SameJson<Json>& extra_context) const {
  const std::string& name = parsed_->name;
  DSINFER_CHECK(messages.is_array(), name, ": messages must be an array of objects");
  DSINFER_CHECK(tools.is_null() || tools.is_array(), name, ": tools must be an array or null");
  DSINFER_CHECK(extra_context.is_null() || extra_context.is_object(), name,
                ": extra context must be an object or null");
  const size_t depth = limits_.max_nesting_depth;
  jinja::Dict variables;
  if (extra_context.is_object()) {
    for (const auto& [key, value] : extra_context.items())
      variables.set(key, jinja::from_json(value, true, depth));
  }
  // Request data is user-supplied; the special tokens and flags come from us.
  variables.set("messages", jinja::from_json(messages, true, depth));
  variables.set("tools", jinja::from_json(tools, true, depth));
  variables.set("add_generation_prompt", jinja::Value(add_generation_prompt));
  variables.set("bos_token", jinja::Value::from_template_text(bos_token_));
  variables.set("eos_token", jinja::Value::from_template_text(eos_token_));

  const jinja::TaggedString output = jinja::render_template(*parsed_, variables, limits_);
  std::vector<PromptSegment> segments;
  size_t position = 0;
  for (const auto& [begin, end] : output.user_ranges) {
    if (begin > position) segments.push_back({output.text.substr(position, begin - position), false});
    segments.push_back({output.text.substr(begin, end - begin), true});
    position = end;
  }
  if (position < output.text.size()) segments.push_back({output.text.substr(position), false});
  return segments;
}

template <typename Json>
ChatPrompt build_chat_prompt(const ChatTemplate& chat_template, const Tokenizer& tokenizer,
                             const Json& messages, const SameJson<Json>& tools, bool add_generation_prompt,
                             const SameJson<Json>& extra_context) {
  const std::vector<PromptSegment> segments =
      chat_template.render_segments(messages, tools, add_generation_prompt, extra_context);
  ChatPrompt prompt;
  for (const PromptSegment& segment : segments) prompt.text += segment.text;
  prompt.ids = tokenizer.encode_segments(segments);
  return prompt;
}

#define DSINFER_INSTANTIATE_CHAT(Json)                                                                   \
  template std::string ChatTemplate::render(const Json&, const Json&, bool, const Json&) const;          \
  template std::vector<PromptSegment> ChatTemplate::render_segments(const Json&, const Json&, bool,      \
                                                                    const Json&) const;                  \
  template ChatPrompt build_chat_prompt(const ChatTemplate&, const Tokenizer&, const Json&, const Json&, \
                                        bool, const Json&);
DSINFER_INSTANTIATE_CHAT(nlohmann::json)
DSINFER_INSTANTIATE_CHAT(nlohmann::ordered_json)
#undef DSINFER_INSTANTIATE_CHAT

}  // namespace dsinfer::text
