// The `dsinfer tokenize` JSON-lines protocol: each request kind, and bad lines answered with an error while
// the following lines still run.
#include <gtest/gtest.h>

#include <sstream>

#include "text/tokenize_protocol.h"
#include "text_test_support.h"

namespace dsinfer::text {
namespace {

using testing::deepseek_tokenizer;
using testing::model_dir;

TokenizeSession deepseek_session() {
  static const ChatTemplate chat_template = ChatTemplate::from_tokenizer_config(model_dir());
  TokenizeSession session;
  session.tokenizer = &deepseek_tokenizer();
  session.chat_template = &chat_template;
  return session;
}

nlohmann::json ask(const TokenizeSession& session, const std::string& line) {
  return nlohmann::json::parse(answer_tokenize_request(session, line));
}

TEST(TokenizeProtocol, TextToIdsWithoutBos) {
  EXPECT_EQ(ask(deepseek_session(), R"({"text": "Hello!"})"),
            nlohmann::json::parse(R"({"ids": [19923, 3]})"));
  // Added tokens in the text are matched, as HF does.
  EXPECT_EQ(ask(deepseek_session(), R"({"text": "<｜User｜>"})"),
            nlohmann::json::parse(R"({"ids": [128803]})"));
}

TEST(TokenizeProtocol, IdsToText) {
  const auto session = deepseek_session();
  EXPECT_EQ(ask(session, R"({"ids": [0, 19923, 3, 1]})")["text"],
            "<｜begin▁of▁sentence｜>Hello!<｜end▁of▁sentence｜>");
  EXPECT_EQ(ask(session, R"({"ids": [0, 19923, 3, 1], "skip_special_tokens": true})")["text"], "Hello!");
  EXPECT_EQ(ask(session, R"({"ids": []})")["text"], "");
}

TEST(TokenizeProtocol, MessagesToTextAndIds) {
  const auto reply =
      ask(deepseek_session(),
          R"({"messages": [{"role": "user", "content": "Hello!"}], "add_generation_prompt": true})");
  EXPECT_EQ(reply["text"], "<｜begin▁of▁sentence｜><｜User｜>Hello!<｜Assistant｜>");
  EXPECT_EQ(reply["ids"], nlohmann::json::parse("[0, 128803, 19923, 3, 128804]"));
  const auto without_prompt =
      ask(deepseek_session(), R"({"messages": [{"role": "user", "content": "Hello!"}]})");
  EXPECT_EQ(without_prompt["ids"], nlohmann::json::parse("[0, 128803, 19923, 3]"));
}

TEST(TokenizeProtocol, BadLinesGetAnErrorAndTheNextLinesRun) {
  const auto session = deepseek_session();
  std::istringstream input(
      "not json\n"
      "[1, 2]\n"
      "{\"text\": 5}\n"
      "{\"text\": \"a\", \"ids\": [1]}\n"
      "{\"ids\": [1], \"skip_special_token\": true}\n"
      "{\"ids\": [\"x\"]}\n"
      "{\"ids\": [99999999999]}\n"
      "{\"messages\": \"hi\"}\n"
      "{\"messages\": [{\"role\": \"user\"}]}\n"
      "\n"
      "{\"text\": \"Hello!\"}\n");
  std::ostringstream output;
  run_tokenize_protocol(session, input, output);
  std::vector<nlohmann::json> replies;
  std::istringstream lines(output.str());
  for (std::string line; std::getline(lines, line);) replies.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(replies.size(), 11u);
  const std::vector<std::string> expected_errors = {"invalid JSON",
                                                    "each line must be a JSON object",
                                                    "\"text\" must be a string",
                                                    "give exactly one of",
                                                    "unknown field \"skip_special_token\"",
                                                    "\"ids\" must hold integers",
                                                    "\"ids\" must hold integers",
                                                    "messages must be an array",
                                                    "has no attribute 'content'",
                                                    "invalid JSON"};
  for (size_t i = 0; i < expected_errors.size(); ++i) {
    ASSERT_TRUE(replies[i].contains("error")) << i << ": " << replies[i].dump();
    EXPECT_NE(replies[i]["error"].get<std::string>().find(expected_errors[i]), std::string::npos)
        << replies[i].dump();
  }
  EXPECT_EQ(replies.back(), nlohmann::json::parse(R"({"ids": [19923, 3]})"));
}

TEST(TokenizeProtocol, MissingChatTemplateIsReportedPerRequest) {
  TokenizeSession session;
  session.tokenizer = &deepseek_tokenizer();
  session.chat_template_error = "model has no chat_template";
  EXPECT_EQ(ask(session, R"({"messages": []})")["error"], "model has no chat_template");
  EXPECT_TRUE(ask(session, R"({"text": "x"})").contains("ids"));
}

}  // namespace
}  // namespace dsinfer::text
