// Splits one choice's generated text into what the OpenAI response carries: `reasoning_content` (R1's
// thinking, with --reasoning-parser deepseek-r1), `content`, and `tool_calls` (DeepSeek-V3's tool-call
// syntax, with --tool-call-parser deepseekv3 and tools in the request). Incremental: each push() returns
// the deltas that became final; finish() flushes. Wraps the text module's parsers.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dsinfer::server {

struct ToolCallDelta {
  int index = 0;          // position of the call in the choice's tool_calls
  std::string id;         // set on the call's first delta
  std::string name;       // set on the call's first delta
  std::string arguments;  // the next piece of the JSON arguments text
};

struct OutputDelta {
  std::string content;
  std::string reasoning;
  std::vector<ToolCallDelta> tool_calls;
  bool empty() const { return content.empty() && reasoning.empty() && tool_calls.empty(); }
};

class OutputParser {
 public:
  // call_id_prefix: tool-call ids are "<prefix>_<index>"; unique per response.
  OutputParser(bool parse_reasoning, bool parse_tool_calls, std::string call_id_prefix = "call");
  ~OutputParser();
  OutputParser(OutputParser&&) noexcept;
  OutputParser& operator=(OutputParser&&) noexcept;

  OutputDelta push(std::string_view text);
  OutputDelta finish();
  bool has_tool_calls() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dsinfer::server
