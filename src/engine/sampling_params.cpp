#include "engine/sampling_params.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"

namespace dsinfer {
namespace {

bool in_range(float value, float low, float high) { return std::isfinite(value) && value >= low && value <= high; }

std::optional<ParameterProblem> problem(std::string param, std::string message) {
  return ParameterProblem{std::move(param), std::move(message)};
}

std::string describe(float value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

}  // namespace

GenerationDefaults load_generation_defaults(const std::string& model_dir) {
  GenerationDefaults defaults;
  const std::filesystem::path path = std::filesystem::path(model_dir) / "generation_config.json";
  if (!std::filesystem::exists(path)) return defaults;
  std::ifstream file(path);
  nlohmann::json config = nlohmann::json::parse(file, nullptr, /*allow_exceptions=*/false);
  DSINFER_CHECK(config.is_object(), path.string(), " is not a JSON object");
  auto number = [&](const char* field) -> std::optional<double> {
    if (!config.contains(field) || config[field].is_null()) return std::nullopt;
    DSINFER_CHECK(config[field].is_number(), path.string(), ": field \"", field, "\" must be a number");
    return config[field].get<double>();
  };
  if (auto value = number("temperature")) defaults.temperature = static_cast<float>(*value);
  if (auto value = number("top_p")) defaults.top_p = static_cast<float>(*value);
  if (auto value = number("top_k")) defaults.top_k = static_cast<int>(*value);
  if (auto value = number("min_p")) defaults.min_p = static_cast<float>(*value);
  if (auto value = number("repetition_penalty")) defaults.repetition_penalty = static_cast<float>(*value);
  if (config.contains("do_sample")) {
    DSINFER_CHECK(config["do_sample"].is_boolean(), path.string(), ": field \"do_sample\" must be true or false");
    defaults.do_sample = config["do_sample"].get<bool>();
  }
  if (config.contains("eos_token_id")) {
    const auto& eos = config["eos_token_id"];
    if (eos.is_number_integer()) {
      defaults.eos_token_ids.push_back(eos.get<int32_t>());
    } else if (eos.is_array()) {
      for (const auto& id : eos) {
        DSINFER_CHECK(id.is_number_integer(), path.string(), ": \"eos_token_id\" entries must be integers");
        defaults.eos_token_ids.push_back(id.get<int32_t>());
      }
    } else {
      DSINFER_CHECK(eos.is_null(), path.string(), ": \"eos_token_id\" must be an integer or a list of integers");
    }
  }
  return defaults;
}

std::optional<ParameterProblem> check_sampling_params(const SamplingParams& params, int64_t vocab_size) {
  if (!in_range(params.temperature, 0.0f, 100.0f))
    return problem("temperature", "temperature must be a number in [0, 100], got " + describe(params.temperature));
  if (!std::isfinite(params.top_p) || params.top_p <= 0.0f || params.top_p > 1.0f)
    return problem("top_p", "top_p must be in (0, 1], got " + describe(params.top_p));
  if (params.top_k < -1)
    return problem("top_k", "top_k must be -1 (no limit) or a positive number, got " + std::to_string(params.top_k));
  if (!in_range(params.min_p, 0.0f, 1.0f))
    return problem("min_p", "min_p must be in [0, 1], got " + describe(params.min_p));
  if (!in_range(params.frequency_penalty, -2.0f, 2.0f))
    return problem("frequency_penalty",
                   "frequency_penalty must be in [-2, 2], got " + describe(params.frequency_penalty));
  if (!in_range(params.presence_penalty, -2.0f, 2.0f))
    return problem("presence_penalty", "presence_penalty must be in [-2, 2], got " + describe(params.presence_penalty));
  if (!std::isfinite(params.repetition_penalty) || params.repetition_penalty <= 0.0f ||
      params.repetition_penalty > 2.0f)
    return problem("repetition_penalty",
                   "repetition_penalty must be in (0, 2], got " + describe(params.repetition_penalty));
  if (params.logit_bias.size() > static_cast<size_t>(kMaxLogitBiasEntries))
    return problem("logit_bias", "logit_bias has " + std::to_string(params.logit_bias.size()) +
                                     " entries; at most " + std::to_string(kMaxLogitBiasEntries) + " are allowed");
  for (const auto& [token, bias] : params.logit_bias) {
    if (token < 0 || token >= vocab_size)
      return problem("logit_bias", "logit_bias token id " + std::to_string(token) + " is outside the vocabulary [0, " +
                                       std::to_string(vocab_size) + ")");
    if (!in_range(bias, -100.0f, 100.0f))
      return problem("logit_bias", "logit_bias values must be in [-100, 100], got " + describe(bias) +
                                       " for token " + std::to_string(token));
  }
  if (params.max_new_tokens < 1)
    return problem("max_tokens", "max_tokens must be at least 1, got " + std::to_string(params.max_new_tokens));
  if (params.min_new_tokens < 0 || params.min_new_tokens > params.max_new_tokens)
    return problem("min_tokens", "min_tokens must be in [0, max_tokens = " + std::to_string(params.max_new_tokens) +
                                     "], got " + std::to_string(params.min_new_tokens));
  if (params.stop.size() > static_cast<size_t>(kMaxStopStrings))
    return problem("stop", "stop has " + std::to_string(params.stop.size()) + " strings; at most " +
                               std::to_string(kMaxStopStrings) + " are allowed");
  for (const auto& stop : params.stop) {
    if (stop.empty()) return problem("stop", "stop strings must not be empty");
    if (stop.size() > static_cast<size_t>(kMaxStopStringBytes))
      return problem("stop", "a stop string is " + std::to_string(stop.size()) + " bytes long; at most " +
                                 std::to_string(kMaxStopStringBytes) + " are allowed");
  }
  if (params.stop_token_ids.size() > static_cast<size_t>(kMaxStopTokenIds))
    return problem("stop_token_ids", "stop_token_ids has " + std::to_string(params.stop_token_ids.size()) +
                                         " entries; at most " + std::to_string(kMaxStopTokenIds) + " are allowed");
  for (int32_t token : params.stop_token_ids) {
    if (token < 0 || token >= vocab_size)
      return problem("stop_token_ids", "stop token id " + std::to_string(token) + " is outside the vocabulary [0, " +
                                           std::to_string(vocab_size) + ")");
  }
  if (params.top_logprobs < 0 || params.top_logprobs > kMaxTopLogprobs)
    return problem("top_logprobs", "top_logprobs must be in [0, " + std::to_string(kMaxTopLogprobs) + "], got " +
                                       std::to_string(params.top_logprobs));
  return std::nullopt;
}

}  // namespace dsinfer
