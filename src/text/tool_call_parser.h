// Parses DeepSeek-V3 tool calls out of generated text into OpenAI `tool_calls`:
//   <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\nARGUMENTS\n```<｜tool▁call▁end｜>
//   ...more calls, separated by whitespace...<｜tool▁calls▁end｜>
// Text before the calls is content. Arguments are passed on as written (JSON text), without the code fence.
// Streaming (push) yields the content, then each call's name once, then its arguments in pieces; the pieces
// of a stream always add up to the whole-text result (parse), for any split of the text.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace dsinfer::text {

// One streamed piece of a tool call: the first piece of a call has its id, type and name.
struct ToolCallChunk {
  int index = 0;
  bool starts_call = false;
  std::string id;    // set when starts_call
  std::string type;  // set when starts_call ("function")
  std::string name;  // set when starts_call
  std::string arguments_delta;

  // The OpenAI streaming form: {"index", "id", "type", "function": {"name", "arguments"}} for the first
  // piece, {"index", "function": {"arguments"}} afterwards.
  nlohmann::json to_openai_delta() const;
};

struct ToolCallDelta {
  std::string content_delta;
  std::vector<ToolCallChunk> tool_calls;
};

struct ParsedToolCalls {
  std::string content;
  nlohmann::json tool_calls = nlohmann::json::array();  // [{"id", "type", "function": {"name", "arguments"}}]
};

class ToolCallParser {
 public:
  // Call ids are "<call_id_prefix>_<index>"; pass something unique per request (e.g. "call_<request id>").
  explicit ToolCallParser(std::string call_id_prefix = "call");

  ToolCallDelta push(std::string_view delta);
  // End of output: releases held-back text; a call cut off inside its arguments ends with what was written.
  ToolCallDelta finish();

  static ParsedToolCalls parse(std::string_view text, const std::string& call_id_prefix = "call");

 private:
  enum class State { kContent, kBetweenCalls, kCallType, kName, kArgumentsOpen, kArguments, kAfterCalls };
  void process(ToolCallDelta& out, bool at_end);
  bool step(ToolCallDelta& out, bool at_end);  // one state transition; false when more text is needed
  void finish_call(ToolCallDelta& out, std::string_view arguments_tail);

  std::string call_id_prefix_;
  State state_ = State::kContent;
  std::string pending_;  // text not yet consumed
  std::string
      call_text_;  // raw text of the current call before its name is known (returned as content if cut off)
  std::string call_type_;
  int call_index_ = 0;
  bool arguments_begun_ = false;  // a non-whitespace argument character was emitted for this call
};

}  // namespace dsinfer::text
