#include "server/openai_request.h"

#include <cctype>
#include <cmath>
#include <limits>

#include "server/api_error.h"

namespace dsinfer::server {
namespace {

using nlohmann::json;

std::string type_name(const json& value) {
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number()) return "a number";
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  return "null";
}

// Typed access to the fields of one JSON object; errors name the field (with `prefix`, e.g.
// "sampling_params.") and say what was expected.
class Fields {
 public:
  Fields(const json& object, std::string prefix = {}) : object_(object), prefix_(std::move(prefix)) {}

  bool has(const char* name) const { return object_.contains(name) && !object_[name].is_null(); }
  const json& at(const char* name) const { return object_[name]; }
  std::string param(const char* name) const { return prefix_ + name; }

  std::optional<double> number(const char* name) const {
    if (!has(name)) return std::nullopt;
    const json& value = object_[name];
    if (!value.is_number()) throw bad_request("'" + param(name) + "' must be a number, got " + type_name(value), param(name));
    const double result = value.get<double>();
    if (!std::isfinite(result)) throw bad_request("'" + param(name) + "' must be a finite number", param(name));
    return result;
  }
  std::optional<float> real(const char* name) const {
    auto value = number(name);
    if (!value) return std::nullopt;
    return static_cast<float>(*value);
  }
  std::optional<int64_t> integer(const char* name, int64_t low, int64_t high) const {
    if (!has(name)) return std::nullopt;
    const json& value = object_[name];
    bool integral = value.is_number_integer();
    if (value.is_number_float()) {
      const double real_value = value.get<double>();
      integral = std::isfinite(real_value) && real_value == std::floor(real_value);
    }
    if (!integral) throw bad_request("'" + param(name) + "' must be an integer, got " + value.dump(), param(name));
    int64_t result = 0;
    bool in_range = false;
    if (value.is_number_unsigned()) {
      const uint64_t unsigned_value = value.get<uint64_t>();  // nlohmann stores every non-negative integer so
      in_range = high >= 0 && unsigned_value <= static_cast<uint64_t>(high) &&
                 (low <= 0 || unsigned_value >= static_cast<uint64_t>(low));
      if (in_range) result = static_cast<int64_t>(unsigned_value);
    } else if (value.is_number_integer()) {
      result = value.get<int64_t>();
      in_range = result >= low && result <= high;
    } else {
      const double real_value = value.get<double>();  // integral; exact below 2^53
      in_range = std::fabs(real_value) < 9.0e15 && real_value >= static_cast<double>(low) &&
                 real_value <= static_cast<double>(high);
      if (in_range) result = static_cast<int64_t>(real_value);
    }
    if (!in_range) {
      throw bad_request("'" + param(name) + "' must be in [" + std::to_string(low) + ", " + std::to_string(high) +
                            "], got " + value.dump(),
                        param(name));
    }
    return result;
  }
  std::optional<bool> boolean(const char* name) const {
    if (!has(name)) return std::nullopt;
    if (!object_[name].is_boolean())
      throw bad_request("'" + param(name) + "' must be true or false, got " + type_name(object_[name]), param(name));
    return object_[name].get<bool>();
  }
  std::optional<std::string> string(const char* name) const {
    if (!has(name)) return std::nullopt;
    if (!object_[name].is_string())
      throw bad_request("'" + param(name) + "' must be a string, got " + type_name(object_[name]), param(name));
    return object_[name].get<std::string>();
  }

 private:
  const json& object_;
  std::string prefix_;
};

void require_object(const json& body) {
  if (!body.is_object()) throw bad_request("the request body must be a JSON object, got " + type_name(body));
}

std::vector<std::string> parse_stop(const Fields& fields, const char* name) {
  std::vector<std::string> stop;
  if (!fields.has(name)) return stop;
  const json& value = fields.at(name);
  if (value.is_string()) {
    stop.push_back(value.get<std::string>());
  } else if (value.is_array()) {
    if (value.size() > static_cast<size_t>(kMaxStopStrings)) {
      throw bad_request("'" + fields.param(name) + "' has " + std::to_string(value.size()) + " entries; at most " +
                            std::to_string(kMaxStopStrings) + " are allowed",
                        fields.param(name));
    }
    for (const json& entry : value) {
      if (!entry.is_string()) throw bad_request("'" + fields.param(name) + "' entries must be strings", fields.param(name));
      stop.push_back(entry.get<std::string>());
    }
  } else {
    throw bad_request("'" + fields.param(name) + "' must be a string or a list of strings", fields.param(name));
  }
  return stop;
}

std::vector<int32_t> parse_token_list(const Fields& fields, const char* name, size_t max_entries) {
  std::vector<int32_t> tokens;
  if (!fields.has(name)) return tokens;
  const json& value = fields.at(name);
  if (!value.is_array()) throw bad_request("'" + fields.param(name) + "' must be a list of token ids", fields.param(name));
  if (value.size() > max_entries) {
    throw bad_request("'" + fields.param(name) + "' has " + std::to_string(value.size()) + " entries; at most " +
                          std::to_string(max_entries) + " are allowed",
                      fields.param(name));
  }
  for (const json& entry : value) {
    if (!entry.is_number_integer() || entry.get<int64_t>() < 0 || entry.get<int64_t>() > std::numeric_limits<int32_t>::max())
      throw bad_request("'" + fields.param(name) + "' entries must be token ids (non-negative integers)", fields.param(name));
    tokens.push_back(entry.get<int32_t>());
  }
  return tokens;
}

std::vector<std::pair<int32_t, float>> parse_logit_bias(const Fields& fields) {
  std::vector<std::pair<int32_t, float>> bias;
  if (!fields.has("logit_bias")) return bias;
  const json& value = fields.at("logit_bias");
  if (!value.is_object()) throw bad_request("'logit_bias' must be an object mapping token ids to numbers", "logit_bias");
  if (value.size() > static_cast<size_t>(kMaxLogitBiasEntries)) {
    throw bad_request("'logit_bias' has " + std::to_string(value.size()) + " entries; at most " +
                          std::to_string(kMaxLogitBiasEntries) + " are allowed",
                      "logit_bias");
  }
  for (const auto& [key, entry] : value.items()) {
    const bool numeric_key = !key.empty() && key.size() <= 10 &&
                             std::all_of(key.begin(), key.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    if (!numeric_key || std::stoll(key) > std::numeric_limits<int32_t>::max())
      throw bad_request("'logit_bias' keys must be token ids, got \"" + key + "\"", "logit_bias");
    if (!entry.is_number()) throw bad_request("'logit_bias' values must be numbers", "logit_bias");
    bias.push_back({static_cast<int32_t>(std::stoll(key)), entry.get<float>()});
  }
  return bias;
}

// Constrained decoding (JSON mode, JSON schema, regex, grammar) is not implemented: a request that asks for it
// gets a 400 rather than unconstrained text it would take for conforming output.
void refuse_constrained_decoding(const Fields& fields) {
  for (const char* name : {"regex", "json_schema", "ebnf", "structural_tag"}) {
    if (fields.has(name))
      throw bad_request("'" + fields.param(name) + "': constrained decoding is not supported by this server", fields.param(name),
                        "unsupported_value");
  }
  if (fields.has("response_format")) {
    const json& format = fields.at("response_format");
    if (!format.is_object() || format.value("type", "") != "text") {
      throw bad_request("'response_format' other than {\"type\": \"text\"} needs constrained decoding, which this server "
                        "does not support",
                        "response_format", "unsupported_value");
    }
  }
}

// Fields shared by every generation API (SGLang's extensions included), with defaults for what is absent.
void parse_sampling(const Fields& fields, const GenerationDefaults& defaults, SamplingParams& params) {
  const bool greedy_default = !defaults.do_sample;
  params.temperature = fields.real("temperature").value_or(greedy_default ? 0.0f : defaults.temperature.value_or(1.0f));
  params.top_p = fields.real("top_p").value_or(defaults.top_p.value_or(1.0f));
  params.top_k = static_cast<int>(fields.integer("top_k", -1, std::numeric_limits<int32_t>::max()).value_or(defaults.top_k.value_or(-1)));
  params.min_p = fields.real("min_p").value_or(defaults.min_p.value_or(0.0f));
  params.frequency_penalty = fields.real("frequency_penalty").value_or(0.0f);
  params.presence_penalty = fields.real("presence_penalty").value_or(0.0f);
  params.repetition_penalty = fields.real("repetition_penalty").value_or(defaults.repetition_penalty.value_or(1.0f));
  if (auto seed = fields.integer("seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()))
    params.seed = static_cast<uint64_t>(*seed);
  params.stop = parse_stop(fields, "stop");
  params.stop_token_ids = parse_token_list(fields, "stop_token_ids", kMaxStopTokenIds);
  params.ignore_eos = fields.boolean("ignore_eos").value_or(false);
  params.logit_bias = parse_logit_bias(fields);
  refuse_constrained_decoding(fields);
  if (auto problem = check_sampling_params(params, std::numeric_limits<int32_t>::max())) {
    throw bad_request(problem->message, problem->param);
  }
}

void parse_n(const Fields& fields, GenerationSpec& spec) {
  spec.n = static_cast<int>(fields.integer("n", 1, kMaxChoices).value_or(1));
}

void parse_stream(const Fields& fields, GenerationSpec& spec) {
  spec.stream = fields.boolean("stream").value_or(false);
  if (fields.has("stream_options")) {
    const json& options = fields.at("stream_options");
    if (!options.is_object()) throw bad_request("'stream_options' must be an object", "stream_options");
    if (!spec.stream) throw bad_request("'stream_options' is only allowed together with \"stream\": true", "stream_options");
    spec.include_usage = Fields(options, "stream_options.").boolean("include_usage").value_or(false);
  }
}

std::optional<int64_t> parse_max_tokens(const Fields& fields, const char* name) {
  if (!fields.has(name)) return std::nullopt;
  return fields.integer(name, 1, std::numeric_limits<int32_t>::max());
}

// A message's content: a string, a list of text parts (joined), or null.
json normalise_content(const json& content, const std::string& where) {
  if (content.is_null() || content.is_string()) return content;
  if (!content.is_array()) throw bad_request("'" + where + "' must be a string or a list of content parts", where);
  std::string text;
  for (size_t j = 0; j < content.size(); ++j) {
    const std::string part_where = where + "[" + std::to_string(j) + "]";
    const json& part = content[j];
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      throw bad_request("'" + part_where + "' must be an object with a \"type\"", part_where + ".type");
    const std::string type = part["type"].get<std::string>();
    if (type != "text") {
      throw bad_request("content part type \"" + type + "\" is not supported: this model reads text only",
                        part_where + ".type");
    }
    if (!part.contains("text") || !part["text"].is_string())
      throw bad_request("'" + part_where + ".text' must be a string", part_where + ".text");
    text += part["text"].get<std::string>();
  }
  return text;
}

json normalise_tool_calls(const json& calls, const std::string& where) {
  if (!calls.is_array()) throw bad_request("'" + where + "' must be a list", where);
  json result = json::array();
  for (size_t k = 0; k < calls.size(); ++k) {
    const std::string call_where = where + "[" + std::to_string(k) + "]";
    const json& call = calls[k];
    if (!call.is_object() || !call.contains("function") || !call["function"].is_object())
      throw bad_request("'" + call_where + "' must be an object with a \"function\"", call_where + ".function");
    const json& function = call["function"];
    if (!function.contains("name") || !function["name"].is_string())
      throw bad_request("'" + call_where + ".function.name' must be a string", call_where + ".function.name");
    json arguments = function.contains("arguments") ? function["arguments"] : json("{}");
    if (!arguments.is_string()) arguments = arguments.dump();  // some clients send an object
    result.push_back({{"id", call.value("id", "call_" + std::to_string(k))},
                      {"type", "function"},
                      {"function", {{"name", function["name"]}, {"arguments", arguments}}}});
  }
  return result;
}

json normalise_messages(const Fields& fields) {
  if (!fields.has("messages")) throw bad_request("'messages' is required", "messages");
  const json& messages = fields.at("messages");
  if (!messages.is_array()) throw bad_request("'messages' must be a list of messages", "messages");
  if (messages.empty()) throw bad_request("'messages' must contain at least one message", "messages");
  if (messages.size() > static_cast<size_t>(kMaxMessages)) {
    throw bad_request("'messages' has " + std::to_string(messages.size()) + " entries; at most " +
                          std::to_string(kMaxMessages) + " are allowed",
                      "messages");
  }
  json result = json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string where = "messages[" + std::to_string(i) + "]";
    const json& message = messages[i];
    if (!message.is_object()) throw bad_request("'" + where + "' must be an object", where);
    if (!message.contains("role") || !message["role"].is_string())
      throw bad_request("'" + where + ".role' must be a string", where + ".role");
    std::string role = message["role"].get<std::string>();
    if (role == "developer") role = "system";
    if (role != "system" && role != "user" && role != "assistant" && role != "tool") {
      throw bad_request("'" + where + ".role' must be one of system, developer, user, assistant, tool; got \"" + role + "\"",
                        where + ".role");
    }
    json normalised = {{"role", role}};
    json content = message.contains("content") ? normalise_content(message["content"], where + ".content") : json(nullptr);
    if (role == "assistant" && message.contains("tool_calls") && !message["tool_calls"].is_null() &&
        !message["tool_calls"].empty()) {
      normalised["tool_calls"] = normalise_tool_calls(message["tool_calls"], where + ".tool_calls");
      normalised["content"] = content.is_string() && !content.get<std::string>().empty() ? content : json(nullptr);
    } else {
      if (!content.is_string())
        throw bad_request("'" + where + ".content' must be a string or a list of text parts", where + ".content");
      normalised["content"] = content;
    }
    if (role == "tool" && message.contains("tool_call_id")) normalised["tool_call_id"] = message["tool_call_id"];
    result.push_back(std::move(normalised));
  }
  return result;
}

void parse_tools(const Fields& fields, GenerationSpec& spec) {
  spec.tools = nullptr;
  if (fields.has("tools")) {
    const json& tools = fields.at("tools");
    if (!tools.is_array()) throw bad_request("'tools' must be a list", "tools");
    for (size_t i = 0; i < tools.size(); ++i) {
      const std::string where = "tools[" + std::to_string(i) + "]";
      const json& tool = tools[i];
      if (!tool.is_object() || tool.value("type", "") != "function" || !tool.contains("function") ||
          !tool["function"].is_object() || !tool["function"].contains("name") || !tool["function"]["name"].is_string()) {
        throw bad_request("'" + where + "' must be {\"type\": \"function\", \"function\": {\"name\": ...}}", where);
      }
    }
    if (!tools.empty()) spec.tools = tools;
  }
  spec.tool_choice = spec.tools.is_null() ? "none" : "auto";
  if (!fields.has("tool_choice")) return;
  const json& choice = fields.at("tool_choice");
  if (choice.is_string()) {
    const std::string value = choice.get<std::string>();
    if (value != "none" && value != "auto" && value != "required")
      throw bad_request("'tool_choice' must be \"none\", \"auto\", \"required\" or a function", "tool_choice");
    spec.tool_choice = value;
  } else if (choice.is_object() && choice.contains("function") && choice["function"].is_object() &&
             choice["function"].contains("name") && choice["function"]["name"].is_string()) {
    spec.tool_choice = "function";
    spec.tool_choice_name = choice["function"]["name"].get<std::string>();
  } else {
    throw bad_request("'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}",
                      "tool_choice");
  }
  if (spec.tool_choice != "none" && spec.tools.is_null())
    throw bad_request("'tool_choice' is \"" + spec.tool_choice + "\" but the request has no 'tools'", "tool_choice");
  if (spec.tool_choice == "function") {
    bool known = false;
    for (const json& tool : spec.tools) known = known || tool["function"]["name"] == spec.tool_choice_name;
    if (!known) throw bad_request("'tool_choice' names function \"" + spec.tool_choice_name + "\", which is not in 'tools'", "tool_choice");
  }
}

std::vector<PromptInput> parse_prompts(const json& prompt, const std::string& param) {
  std::vector<PromptInput> prompts;
  auto token_ids = [&](const json& list, const std::string& where) {
    std::vector<int64_t> ids;
    for (const json& id : list) {
      if (!id.is_number_integer()) throw bad_request("'" + where + "' must contain only integer token ids", param);
      ids.push_back(id.is_number_unsigned() && id.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                        ? std::numeric_limits<int64_t>::max()
                        : id.get<int64_t>());
    }
    return ids;
  };
  if (prompt.is_string()) {
    prompts.emplace_back(prompt.get<std::string>());
  } else if (prompt.is_array() && !prompt.empty() && prompt[0].is_number()) {
    prompts.emplace_back(token_ids(prompt, param));
  } else if (prompt.is_array()) {
    if (prompt.size() > static_cast<size_t>(kMaxPromptsPerRequest)) {
      throw bad_request("'" + param + "' is a list of " + std::to_string(prompt.size()) + " prompts; at most " +
                            std::to_string(kMaxPromptsPerRequest) + " are allowed per request",
                        param);
    }
    for (size_t i = 0; i < prompt.size(); ++i) {
      const json& entry = prompt[i];
      if (entry.is_string()) {
        prompts.emplace_back(entry.get<std::string>());
      } else if (entry.is_array()) {
        prompts.emplace_back(token_ids(entry, param + "[" + std::to_string(i) + "]"));
      } else {
        throw bad_request("'" + param + "' entries must be strings or lists of token ids", param);
      }
    }
  } else {
    throw bad_request("'" + param + "' must be a string, a list of strings, or token ids", param);
  }
  if (prompts.empty()) throw bad_request("'" + param + "' must not be empty", param);
  for (const PromptInput& entry : prompts) {
    const bool empty = std::holds_alternative<std::string>(entry) ? std::get<std::string>(entry).empty()
                                                                  : std::get<std::vector<int64_t>>(entry).empty();
    if (empty) throw bad_request("'" + param + "' must not be empty", param);
  }
  return prompts;
}

void parse_logprobs_chat(const Fields& fields, GenerationSpec& spec) {
  spec.params.logprobs = fields.boolean("logprobs").value_or(false);
  if (auto top = fields.integer("top_logprobs", 0, kMaxTopLogprobs)) {
    if (!spec.params.logprobs && *top > 0)
      throw bad_request("'top_logprobs' requires \"logprobs\": true", "top_logprobs");
    spec.params.top_logprobs = static_cast<int>(*top);
  }
}

void parse_min_tokens(const Fields& fields, const char* name, GenerationSpec& spec) {
  spec.params.min_new_tokens = static_cast<int>(fields.integer(name, 0, std::numeric_limits<int32_t>::max()).value_or(0));
  if (spec.max_tokens && spec.params.min_new_tokens > *spec.max_tokens) {
    throw bad_request("'" + std::string(name) + "' (" + std::to_string(spec.params.min_new_tokens) +
                          ") must not exceed max_tokens (" + std::to_string(*spec.max_tokens) + ")",
                      name);
  }
}

}  // namespace

nlohmann::json parse_json_body(std::string_view body) {
  bool too_deep = false;
  json parsed;
  try {
    parsed = json::parse(
        body.begin(), body.end(),
        [&](int depth, json::parse_event_t, json&) {
          if (depth > kMaxJsonDepth) too_deep = true;
          return !too_deep;
        },
        /*allow_exceptions=*/true);
  } catch (const json::exception& error) {
    if (!too_deep) throw bad_request(std::string("the request body is not valid JSON: ") + error.what(), "", "invalid_json");
  }
  if (too_deep) {
    throw bad_request("the request body nests JSON deeper than " + std::to_string(kMaxJsonDepth) + " levels", "",
                      "invalid_json");
  }
  require_object(parsed);
  return parsed;
}

bool is_json_content_type(std::string_view content_type) {
  const std::string_view media_type = content_type.substr(0, content_type.find(';'));
  std::string lowered;
  for (char c : media_type) {
    if (c != ' ' && c != '\t') lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return lowered == "application/json";
}

GenerationSpec parse_chat_request(const json& body, const GenerationDefaults& defaults) {
  require_object(body);
  Fields fields(body);
  GenerationSpec spec;
  spec.kind = ApiKind::kChat;
  spec.model = fields.string("model").value_or("");
  spec.messages = normalise_messages(fields);
  if (fields.has("functions") || fields.has("function_call"))
    throw bad_request("'functions' and 'function_call' (deprecated by OpenAI) are not supported; use 'tools' and 'tool_choice'",
                      fields.has("functions") ? "functions" : "function_call", "unsupported_value");
  parse_tools(fields, spec);
  parse_sampling(fields, defaults, spec.params);
  parse_n(fields, spec);
  parse_stream(fields, spec);
  parse_logprobs_chat(fields, spec);
  spec.max_tokens = parse_max_tokens(fields, "max_completion_tokens");
  if (!spec.max_tokens) spec.max_tokens = parse_max_tokens(fields, "max_tokens");
  parse_min_tokens(fields, "min_tokens", spec);
  spec.skip_special_tokens = fields.boolean("skip_special_tokens").value_or(true);
  spec.separate_reasoning = fields.boolean("separate_reasoning").value_or(true);
  if (fields.has("chat_template_kwargs")) {
    if (!fields.at("chat_template_kwargs").is_object())
      throw bad_request("'chat_template_kwargs' must be an object", "chat_template_kwargs");
    spec.chat_template_kwargs = fields.at("chat_template_kwargs");
  }
  return spec;
}

GenerationSpec parse_completion_request(const json& body, const GenerationDefaults& defaults) {
  require_object(body);
  Fields fields(body);
  GenerationSpec spec;
  spec.kind = ApiKind::kCompletion;
  spec.model = fields.string("model").value_or("");
  if (!fields.has("prompt")) throw bad_request("'prompt' is required", "prompt");
  spec.prompts = parse_prompts(fields.at("prompt"), "prompt");
  if (fields.has("suffix") && !fields.string("suffix")->empty())
    throw bad_request("'suffix' is not supported (DeepSeek models have no fill-in-the-middle mode here)", "suffix");
  parse_sampling(fields, defaults, spec.params);
  parse_n(fields, spec);
  if (auto best_of = fields.integer("best_of", 1, kMaxChoices); best_of && *best_of != spec.n)
    throw bad_request("'best_of' other than n is not supported", "best_of");
  parse_stream(fields, spec);
  spec.echo = fields.boolean("echo").value_or(false);
  spec.completion_logprobs = static_cast<int>(fields.integer("logprobs", 0, kMaxTopLogprobs).value_or(0));
  spec.params.logprobs = fields.has("logprobs");
  spec.params.top_logprobs = spec.completion_logprobs;
  spec.params.prompt_logprobs = spec.echo && spec.params.logprobs;  // echo scores the prompt too
  // OpenAI's legacy default is 16 tokens.
  spec.max_tokens = parse_max_tokens(fields, "max_tokens").value_or(16);
  parse_min_tokens(fields, "min_tokens", spec);
  spec.skip_special_tokens = fields.boolean("skip_special_tokens").value_or(true);
  return spec;
}

GenerationSpec parse_generate_request(const json& body, const GenerationDefaults& defaults) {
  require_object(body);
  Fields fields(body);
  GenerationSpec spec;
  spec.kind = ApiKind::kGenerate;
  if (fields.has("text") == fields.has("input_ids"))
    throw bad_request("exactly one of 'text' and 'input_ids' is required", fields.has("text") ? "input_ids" : "text");
  spec.prompts = fields.has("text") ? parse_prompts(fields.at("text"), "text") : parse_prompts(fields.at("input_ids"), "input_ids");
  json sampling = fields.has("sampling_params") ? fields.at("sampling_params") : json::object();
  if (!sampling.is_object()) throw bad_request("'sampling_params' must be an object", "sampling_params");
  Fields sampling_fields(sampling, "sampling_params.");
  parse_sampling(sampling_fields, defaults, spec.params);
  parse_n(sampling_fields, spec);
  // SGLang's default for the native API: 128 new tokens.
  spec.max_tokens = parse_max_tokens(sampling_fields, "max_new_tokens").value_or(128);
  parse_min_tokens(sampling_fields, "min_new_tokens", spec);
  spec.skip_special_tokens = sampling_fields.boolean("skip_special_tokens").value_or(true);
  spec.stream = fields.boolean("stream").value_or(false);
  spec.params.logprobs = fields.boolean("return_logprob").value_or(false);
  spec.params.top_logprobs = static_cast<int>(fields.integer("top_logprobs_num", 0, kMaxTopLogprobs).value_or(0));
  const auto start = fields.integer("logprob_start_len", -1, std::numeric_limits<int32_t>::max());
  if (spec.params.logprobs && start && *start >= 0) {
    spec.input_logprobs_start = static_cast<int>(*start);
    spec.params.prompt_logprobs = true;
  }
  return spec;
}

}  // namespace dsinfer::server
