// Request parsing: defaults from generation_config.json where the request is silent, the request's own
// values where it is not, and the normalised form of messages and prompts.
#include <gtest/gtest.h>

#include "server/api_error.h"
#include "server/openai_request.h"

namespace dsinfer::server {
namespace {

using nlohmann::json;

GenerationDefaults fixture_defaults() {
  return load_generation_defaults(DSINFER_TESTDATA_DIR "/fixtures/dsv3-tiny-fullvocab");
}

TEST(OpenAiRequest, DefaultsComeFromGenerationConfigUnlessTheRequestSetsThem) {
  const GenerationDefaults defaults = fixture_defaults();
  ASSERT_EQ(defaults.temperature, 0.6f);
  ASSERT_EQ(defaults.eos_token_ids, std::vector<int32_t>{1});
  const json messages = json::array({{{"role", "user"}, {"content", "hi"}}});
  GenerationSpec silent = parse_chat_request({{"messages", messages}}, defaults);
  EXPECT_EQ(silent.params.temperature, 0.6f);
  EXPECT_EQ(silent.params.top_p, 0.95f);
  EXPECT_FALSE(silent.max_tokens.has_value());  // chat: as many as fit
  GenerationSpec explicit_values = parse_chat_request(
      {{"messages", messages}, {"temperature", 0}, {"top_p", 0.5}, {"max_completion_tokens", 7}, {"max_tokens", 9}},
      defaults);
  EXPECT_EQ(explicit_values.params.temperature, 0.0f);
  EXPECT_EQ(explicit_values.params.top_p, 0.5f);
  EXPECT_EQ(explicit_values.max_tokens, 7);  // max_completion_tokens wins over the deprecated max_tokens

  GenerationDefaults greedy_model;
  greedy_model.do_sample = false;
  EXPECT_EQ(parse_chat_request({{"messages", messages}}, greedy_model).params.temperature, 0.0f);
  EXPECT_EQ(parse_completion_request({{"prompt", "x"}}, GenerationDefaults{}).max_tokens, 16);
  EXPECT_EQ(parse_generate_request({{"text", "x"}}, GenerationDefaults{}).max_tokens, 128);
}

TEST(OpenAiRequest, NormalisesMessages) {
  const json body = {{"messages",
                      {{{"role", "developer"}, {"content", "be brief"}},
                       {{"role", "user"}, {"content", {{{"type", "text"}, {"text", "a"}}, {{"type", "text"}, {"text", "b"}}}}},
                       {{"role", "assistant"},
                        {"content", nullptr},
                        {"tool_calls", {{{"id", "c1"}, {"type", "function"},
                                         {"function", {{"name", "f"}, {"arguments", {{"x", 1}}}}}}}}},
                       {{"role", "tool"}, {"content", "42"}, {"tool_call_id", "c1"}}}}};
  const GenerationSpec spec = parse_chat_request(body, GenerationDefaults{});
  EXPECT_EQ(spec.messages[0]["role"], "system");
  EXPECT_EQ(spec.messages[1]["content"], "ab");
  EXPECT_TRUE(spec.messages[2]["content"].is_null());
  EXPECT_EQ(spec.messages[2]["tool_calls"][0]["function"]["arguments"], "{\"x\":1}");  // objects become JSON text
  EXPECT_EQ(spec.tool_choice, "none");  // no tools in the request
}

TEST(OpenAiRequest, PromptsAsTextIdsOrLists) {
  const GenerationSpec one = parse_completion_request({{"prompt", json::array({1, 2, 3})}}, GenerationDefaults{});
  ASSERT_EQ(one.prompts.size(), 1u);
  EXPECT_EQ(std::get<std::vector<int64_t>>(one.prompts[0]), (std::vector<int64_t>{1, 2, 3}));
  const GenerationSpec many = parse_completion_request({{"prompt", {"a", json::array({4})}}}, GenerationDefaults{});
  ASSERT_EQ(many.prompts.size(), 2u);
  EXPECT_EQ(std::get<std::string>(many.prompts[0]), "a");
}

TEST(OpenAiRequest, ToolChoiceForms) {
  const json messages = json::array({{{"role", "user"}, {"content", "hi"}}});
  const json tools = {{{"type", "function"}, {"function", {{"name", "f"}}}}, {{"type", "function"}, {"function", {{"name", "g"}}}}};
  EXPECT_EQ(parse_chat_request({{"messages", messages}, {"tools", tools}}, GenerationDefaults{}).tool_choice, "auto");
  EXPECT_EQ(parse_chat_request({{"messages", messages}, {"tools", tools}, {"tool_choice", "required"}}, GenerationDefaults{}).tool_choice,
            "required");
  const GenerationSpec named = parse_chat_request(
      {{"messages", messages}, {"tools", tools}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "g"}}}}}},
      GenerationDefaults{});
  EXPECT_EQ(named.tool_choice, "function");
  EXPECT_EQ(named.tool_choice_name, "g");
}

TEST(OpenAiRequest, EchoWithLogprobsAndLogprobStartLenAskForPromptLogprobs) {
  EXPECT_FALSE(parse_completion_request({{"prompt", "x"}, {"logprobs", 2}}, GenerationDefaults{}).params.prompt_logprobs);
  EXPECT_FALSE(parse_completion_request({{"prompt", "x"}, {"echo", true}}, GenerationDefaults{}).params.prompt_logprobs);
  const GenerationSpec echo = parse_completion_request({{"prompt", "x"}, {"echo", true}, {"logprobs", 0}}, GenerationDefaults{});
  EXPECT_TRUE(echo.params.prompt_logprobs);
  EXPECT_EQ(echo.params.top_logprobs, 0);
  const GenerationSpec generate =
      parse_generate_request({{"text", "x"}, {"return_logprob", true}, {"logprob_start_len", 3}}, GenerationDefaults{});
  EXPECT_TRUE(generate.params.prompt_logprobs);
  EXPECT_EQ(generate.input_logprobs_start, 3);
  const GenerationSpec output_only =
      parse_generate_request({{"text", "x"}, {"return_logprob", true}, {"logprob_start_len", -1}}, GenerationDefaults{});
  EXPECT_FALSE(output_only.params.prompt_logprobs);
  EXPECT_EQ(output_only.input_logprobs_start, -1);
}

TEST(OpenAiRequest, ErrorsNameTheParameter) {
  auto param_of = [](const json& body) {
    try {
      parse_chat_request(body, GenerationDefaults{});
    } catch (const ApiError& error) {
      EXPECT_EQ(error.status(), 400u);
      return error.param();
    }
    return std::string("(no error)");
  };
  const json messages = json::array({{{"role", "user"}, {"content", "hi"}}});
  EXPECT_EQ(param_of({{"messages", messages}, {"tools", {{{"type", "function"}, {"function", {{"name", "f"}}}}}},
                      {"tool_choice", {{"type", "function"}, {"function", {{"name", "g"}}}}}}),
            "tool_choice");
  EXPECT_EQ(param_of({{"messages", messages}, {"tool_choice", "required"}}), "tool_choice");  // no tools
  EXPECT_EQ(param_of({{"messages", messages}, {"tools", {{{"type", "function"}, {"function", {{"name", "f"}}}}}},
                      {"tool_choice", "any"}}),
            "tool_choice");
  EXPECT_EQ(param_of({{"messages", messages}, {"stream_options", {{"include_usage", true}}}}), "stream_options");
  EXPECT_EQ(param_of({{"messages", messages}, {"max_tokens", 5}, {"min_tokens", 6}}), "min_tokens");
  EXPECT_EQ(param_of({{"messages", messages}, {"seed", 1.5}}), "seed");
  EXPECT_EQ(param_of({{"messages", json::array({{{"role", "assistant"}, {"content", nullptr}}})}}), "messages[0].content");
  EXPECT_THROW(parse_json_body("{\"a\": " + std::string(100, '[') + std::string(100, ']') + "}"), ApiError);
  EXPECT_TRUE(is_json_content_type("Application/JSON; charset=utf-8"));
  EXPECT_FALSE(is_json_content_type("application/jsonp"));
}

}  // namespace
}  // namespace dsinfer::server
