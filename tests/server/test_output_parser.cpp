// OutputParser: R1 reasoning and DeepSeek-V3 tool calls split out of generated text, streamed in any
// split (here: one byte at a time and in a few irregular pieces) adding up to the whole-text result.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/output_parser.h"

namespace dsinfer::server {
namespace {

struct Collected {
  std::string content;
  std::string reasoning;
  std::vector<nlohmann::json> calls;  // [{"id", "name", "arguments"}]
  bool has_tool_calls = false;
};

void add(Collected& collected, const OutputDelta& delta) {
  collected.content += delta.content;
  collected.reasoning += delta.reasoning;
  for (const ToolCallDelta& call : delta.tool_calls) {
    if (call.index >= static_cast<int>(collected.calls.size())) {
      ASSERT_FALSE(call.id.empty()) << "a call's first piece carries its id and name";
      collected.calls.push_back({{"id", call.id}, {"name", call.name}, {"arguments", ""}});
    }
    collected.calls[static_cast<size_t>(call.index)]["arguments"] =
        collected.calls[static_cast<size_t>(call.index)]["arguments"].get<std::string>() + call.arguments;
  }
}

Collected run(bool reasoning, bool tools, const std::string& text, size_t piece) {
  OutputParser parser(reasoning, tools, "call_test");
  Collected collected;
  for (size_t begin = 0; begin < text.size(); begin += piece) add(collected, parser.push(text.substr(begin, piece)));
  add(collected, parser.finish());
  collected.has_tool_calls = parser.has_tool_calls();
  return collected;
}

const std::string kCall =
    "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Paris\"}\n```"
    "<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n{}\n```<｜tool▁call▁end｜>"
    "<｜tool▁calls▁end｜>";

TEST(OutputParser, PassesTextThroughWhenNothingIsParsed) {
  const std::string text = "plain </think> text " + kCall;
  for (size_t piece : {1, 7, 1000}) {
    Collected collected = run(false, false, text, piece);
    EXPECT_EQ(collected.content, text);
    EXPECT_TRUE(collected.reasoning.empty());
    EXPECT_FALSE(collected.has_tool_calls);
  }
}

TEST(OutputParser, SplitsReasoningFromTheAnswer) {
  for (size_t piece : {1, 3, 1000}) {
    Collected collected = run(true, false, "Let me think.\n</think>\n\nThe answer is 4.", piece);
    EXPECT_EQ(collected.reasoning, "Let me think.");
    EXPECT_EQ(collected.content, "The answer is 4.");
  }
  // Cut off while thinking: everything is reasoning.
  EXPECT_EQ(run(true, false, "still thinking", 2).reasoning, "still thinking");
}

TEST(OutputParser, ParsesToolCallsIntoCallsAndContent) {
  for (size_t piece : {1, 5, 1000}) {
    SCOPED_TRACE("pieces of " + std::to_string(piece));
    Collected collected = run(false, true, "Checking." + kCall, piece);
    EXPECT_EQ(collected.content, "Checking.");
    EXPECT_TRUE(collected.has_tool_calls);
    ASSERT_EQ(collected.calls.size(), 2u);
    EXPECT_EQ(collected.calls[0]["name"], "get_weather");
    EXPECT_EQ(nlohmann::json::parse(collected.calls[0]["arguments"].get<std::string>()), (nlohmann::json{{"city", "Paris"}}));
    EXPECT_EQ(collected.calls[1]["name"], "get_time");
    EXPECT_NE(collected.calls[0]["id"], collected.calls[1]["id"]);
    EXPECT_EQ(collected.calls[0]["id"].get<std::string>().rfind("call_test", 0), 0u);
  }
}

TEST(OutputParser, ReasoningThenToolCalls) {
  for (size_t piece : {1, 4, 1000}) {
    Collected collected = run(true, true, "Need the weather.</think>" + kCall, piece);
    EXPECT_EQ(collected.reasoning, "Need the weather.");
    EXPECT_EQ(collected.content, "");
    ASSERT_EQ(collected.calls.size(), 2u);
    EXPECT_EQ(collected.calls[1]["arguments"], "{}");
  }
}

}  // namespace
}  // namespace dsinfer::server
