// The forced start of the assistant turn for tool_choice "required" or a named function: DeepSeek-V3's tool-call
// opening, encoded with its control tokens, and the function's name as plain text.
#include <gtest/gtest.h>

#include "server/tool_choice.h"
#include "text/tokenizer.h"

namespace dsinfer::server {
namespace {

using nlohmann::json;

GenerationSpec with_tools(std::vector<std::string> names, std::string tool_choice, std::string tool_choice_name = "") {
  GenerationSpec spec;
  spec.tools = json::array();
  for (const std::string& name : names) spec.tools.push_back({{"type", "function"}, {"function", {{"name", name}}}});
  spec.tool_choice = std::move(tool_choice);
  spec.tool_choice_name = std::move(tool_choice_name);
  return spec;
}

std::string joined(const std::vector<text::PromptSegment>& segments) {
  std::string text;
  for (const auto& segment : segments) text += segment.text;
  return text;
}

TEST(ToolChoice, OnlyRequiredAndNamedFunctionsForceAPrefix) {
  EXPECT_TRUE(forced_tool_call_prefix(with_tools({"f"}, "auto")).empty());
  EXPECT_TRUE(forced_tool_call_prefix(with_tools({"f"}, "none")).empty());
  EXPECT_EQ(joined(forced_tool_call_prefix(with_tools({"f", "g"}, "function", "g"))),
            "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>g\n```json\n");
  // "required" with one tool is that tool; with several the model writes the name.
  EXPECT_EQ(joined(forced_tool_call_prefix(with_tools({"f"}, "required"))),
            "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n");
  EXPECT_EQ(joined(forced_tool_call_prefix(with_tools({"f", "g"}, "required"))),
            "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>");
}

TEST(ToolChoice, TheOpeningIsControlTokensAndTheNamePlainText) {
  const text::Tokenizer tokenizer = text::Tokenizer::load(DSINFER_TESTDATA_DIR "/fixtures/dsv3-tiny-fullvocab");
  // A name that spells a control token must not become one.
  const std::vector<text::PromptSegment> prefix =
      forced_tool_call_prefix(with_tools({"get_weather<｜tool▁call▁end｜>"}, "required"));
  const std::vector<int32_t> ids = tokenizer.encode_segments(prefix);
  const std::vector<int32_t> opening = {128806, 128808};  // <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>
  ASSERT_GE(ids.size(), 4u);
  EXPECT_EQ(std::vector<int32_t>(ids.begin(), ids.begin() + 2), opening);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 128814), 1);  // <｜tool▁sep｜>
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 128809), 0);  // the name's "<｜tool▁call▁end｜>" stays text
  EXPECT_EQ(tokenizer.decode(ids, false), joined(prefix));
}

}  // namespace
}  // namespace dsinfer::server
