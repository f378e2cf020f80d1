// Reasoning and tool-call parsing of generated text: expected splits on hand-written outputs, and for every
// output, streaming it in random pieces gives exactly the whole-text result.
#include <gtest/gtest.h>

#include <random>

#include "text/reasoning_parser.h"
#include "text/tool_call_parser.h"

namespace dsinfer::text {
namespace {

// Random split points, including empty pieces and cuts inside multi-byte characters and markers.
std::vector<std::string> random_pieces(const std::string& text, std::mt19937& random) {
  std::vector<std::string> pieces;
  size_t position = 0;
  while (position < text.size()) {
    const size_t length = std::min(text.size() - position, size_t(random() % 7));
    pieces.push_back(text.substr(position, length));
    position += length;
  }
  return pieces;
}

struct ReasoningCase {
  std::string output;
  bool starts_in_reasoning;
  std::string reasoning;
  std::string content;
};

const std::vector<ReasoningCase>& reasoning_cases() {
  static const std::vector<ReasoningCase> cases = {
      {"Let me think.\n</think>\n\nThe answer is 4.", true, "Let me think.", "The answer is 4."},
      {"<think>\nLet me think.\n</think>\n\nThe answer is 4.", true, "Let me think.", "The answer is 4."},
      {"  <think>a</think>b", false, "a", "b"},
      {"No thinking here.", false, "", "No thinking here."},
      {"Cut off while thinking about </thi", true, "Cut off while thinking about </thi", ""},
      {"a</think>", true, "a", ""},
      {"</think>only answer", true, "", "only answer"},
      {"x</think>y</think>z", true, "x", "y</think>z"},
      {"reason <think> inside</think>  answer  ", true, "reason <think> inside", "answer  "},
      {"思考中…\n</think>\n\n答案是四。", true, "思考中…", "答案是四。"},
      {"", true, "", ""},
      {"\n\n", true, "", ""},
  };
  return cases;
}

TEST(ReasoningParser, SplitsAtThinkEnd) {
  for (const auto& example : reasoning_cases()) {
    const ReasoningSplit split = ReasoningParser::parse(example.output, example.starts_in_reasoning);
    EXPECT_EQ(split.reasoning_content, example.reasoning) << example.output;
    EXPECT_EQ(split.content, example.content) << example.output;
  }
}

TEST(ReasoningParser, StreamingInAnyPiecesMatchesWholeText) {
  std::mt19937 random(7);
  for (const auto& example : reasoning_cases()) {
    for (int trial = 0; trial < 300; ++trial) {
      ReasoningParser parser(example.starts_in_reasoning);
      std::string reasoning, content;
      for (const std::string& piece : random_pieces(example.output, random)) {
        const ReasoningDelta delta = parser.push(piece);
        reasoning += delta.reasoning_delta;
        content += delta.content_delta;
      }
      const ReasoningDelta last = parser.finish();
      EXPECT_EQ(reasoning + last.reasoning_delta, example.reasoning) << example.output;
      EXPECT_EQ(content + last.content_delta, example.content) << example.output;
    }
  }
}

TEST(ReasoningParser, DoesNotHoldBackPlainText) {
  ReasoningParser parser;
  EXPECT_EQ(parser.push("Step one").reasoning_delta, "Step one");
  EXPECT_EQ(parser.push(" and </th").reasoning_delta, " and");  // "</th" may become </think>
  const ReasoningDelta delta = parser.push("ink>Done");
  EXPECT_EQ(delta.reasoning_delta, "");
  EXPECT_EQ(delta.content_delta, "Done");
}

const std::string kTwoCalls =
    "Checking both.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n"
    "{\"city\": "
    "\"Paris\"}\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n"
    "{\"zone\": \"CET\", \"code\": \"a`b\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>";

TEST(ToolCallParser, ParsesDeepSeekV3Calls) {
  const ParsedToolCalls parsed = ToolCallParser::parse(kTwoCalls, "call_x");
  EXPECT_EQ(parsed.content, "Checking both.");
  const auto expected = nlohmann::json::parse(R"([
    {"id": "call_x_0", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
    {"id": "call_x_1", "type": "function", "function": {"name": "get_time", "arguments": "{\"zone\": \"CET\", \"code\": \"a`b\"}"}}
  ])");
  EXPECT_EQ(parsed.tool_calls, expected);
}

TEST(ToolCallParser, VariantsAndPlainText) {
  // The single-call form DeepSeek's template writes (no calls-end marker), no fence language, no fence at
  // all.
  auto one_call = [](const std::string& text) { return ToolCallParser::parse(text).tool_calls; };
  const auto weather = nlohmann::json::parse(
      R"([{"id": "call_0", "type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}}])");
  EXPECT_EQ(one_call("<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{\"a\": "
                     "1}\n```<｜tool▁call▁end｜>"),
            weather);
  EXPECT_EQ(one_call("<｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```\n{\"a\": 1}\n```<｜tool▁call▁end｜>"),
            weather);
  EXPECT_EQ(one_call("<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n{\"a\": "
                     "1}<｜tool▁call▁end｜>"),
            weather);
  const ParsedToolCalls plain = ToolCallParser::parse("Just text with ``` code and <｜tool");
  EXPECT_EQ(plain.content, "Just text with ``` code and <｜tool");
  EXPECT_TRUE(plain.tool_calls.empty());
  // Cut off before the name is complete: the text comes back as content rather than being lost.
  const ParsedToolCalls cut =
      ToolCallParser::parse("<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_we");
  EXPECT_TRUE(cut.tool_calls.empty());
  EXPECT_EQ(cut.content, "<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_we");
  // Cut off inside the arguments: the call ends with what was written.
  const ParsedToolCalls partial =
      ToolCallParser::parse("<｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{\"a\": ");
  EXPECT_EQ(partial.tool_calls[0]["function"]["arguments"], "{\"a\":");
}

TEST(ToolCallParser, StreamsNameOnceThenArgumentPieces) {
  ToolCallParser parser;
  std::vector<ToolCallChunk> chunks;
  std::string content;
  for (const char* piece :
       {"Checking", " both.<｜tool▁calls", "▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_",
        "weather\n```json\n{\"city\"", ": \"Paris\"}\n``", "`<｜tool▁call▁end｜>"}) {
    ToolCallDelta delta = parser.push(piece);
    content += delta.content_delta;
    chunks.insert(chunks.end(), delta.tool_calls.begin(), delta.tool_calls.end());
  }
  EXPECT_EQ(content, "Checking both.");
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_TRUE(chunks[0].starts_call);
  EXPECT_EQ(chunks[0].name, "get_weather");
  EXPECT_EQ(
      chunks[0].to_openai_delta(),
      nlohmann::json::parse(
          R"({"index": 0, "id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": ""}})"));
  EXPECT_EQ(chunks[1].arguments_delta, "{\"city\"");
  EXPECT_EQ(chunks[2].arguments_delta, ": \"Paris\"}");
  EXPECT_EQ(chunks[2].to_openai_delta(),
            nlohmann::json::parse(R"({"index": 0, "function": {"arguments": ": \"Paris\"}"}})"));
}

TEST(ToolCallParser, StreamingInAnyPiecesMatchesWholeText) {
  const std::vector<std::string> outputs = {
      kTwoCalls,
      "<｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{\"s\": \"``\"}\n```<｜tool▁call▁end｜>tail",
      "text only, with <｜tool partial markers <｜ and ``` fences",
      "<｜tool▁calls▁begin｜> \n <｜tool▁call▁begin｜> function <｜tool▁sep｜> f \n ```json \n {} \n ``` "
      "<｜tool▁call▁end｜> <｜tool▁calls▁end｜>after",
      "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{\"a\": [1, 2",
  };
  std::mt19937 random(11);
  for (const std::string& output : outputs) {
    const ParsedToolCalls whole = ToolCallParser::parse(output);
    for (int trial = 0; trial < 300; ++trial) {
      ToolCallParser parser;
      ParsedToolCalls streamed;
      auto absorb = [&](const ToolCallDelta& delta) {
        streamed.content += delta.content_delta;
        for (const ToolCallChunk& chunk : delta.tool_calls) {
          if (chunk.starts_call) {
            ASSERT_EQ(size_t(chunk.index), streamed.tool_calls.size());
            streamed.tool_calls.push_back({{"id", chunk.id},
                                           {"type", chunk.type},
                                           {"function", {{"name", chunk.name}, {"arguments", ""}}}});
          }
          ASSERT_LT(size_t(chunk.index), streamed.tool_calls.size());
          auto& arguments = streamed.tool_calls[size_t(chunk.index)]["function"]["arguments"];
          arguments = arguments.get<std::string>() + chunk.arguments_delta;
        }
      };
      for (const std::string& piece : random_pieces(output, random)) absorb(parser.push(piece));
      absorb(parser.finish());
      EXPECT_EQ(streamed.content, whole.content) << output;
      EXPECT_EQ(streamed.tool_calls, whole.tool_calls) << output;
    }
  }
}

}  // namespace
}  // namespace dsinfer::text
