#include "server/output_parser.h"

#include <optional>

#include "text/reasoning_parser.h"
#include "text/tool_call_parser.h"

namespace dsinfer::server {

// R1 writes its reasoning first and then the answer, which may hold tool calls: the reasoning parser sees
// the raw text, the tool-call parser only the answer.
struct OutputParser::Impl {
  std::optional<text::ReasoningParser> reasoning;
  std::optional<text::ToolCallParser> tool_calls;
  bool saw_tool_calls = false;

  void add_answer(const text::ToolCallDelta& delta, OutputDelta& out) {
    out.content += delta.content_delta;
    for (const text::ToolCallChunk& chunk : delta.tool_calls) {
      ToolCallDelta call;
      call.index = chunk.index;
      if (chunk.starts_call) {
        call.id = chunk.id;
        call.name = chunk.name;
      }
      call.arguments = chunk.arguments_delta;
      out.tool_calls.push_back(std::move(call));
      saw_tool_calls = true;
    }
  }

  void answer(std::string_view text, bool at_end, OutputDelta& out) {
    if (!tool_calls) {
      out.content.append(text);
      return;
    }
    add_answer(tool_calls->push(text), out);
    if (at_end) add_answer(tool_calls->finish(), out);
  }
};

OutputParser::OutputParser(bool parse_reasoning, bool parse_tool_calls, std::string call_id_prefix)
    : impl_(std::make_unique<Impl>()) {
  if (parse_reasoning) impl_->reasoning.emplace(/*starts_in_reasoning=*/true);
  if (parse_tool_calls) impl_->tool_calls.emplace(std::move(call_id_prefix));
}
OutputParser::~OutputParser() = default;
OutputParser::OutputParser(OutputParser&&) noexcept = default;
OutputParser& OutputParser::operator=(OutputParser&&) noexcept = default;

OutputDelta OutputParser::push(std::string_view text) {
  OutputDelta out;
  if (impl_->reasoning) {
    text::ReasoningDelta delta = impl_->reasoning->push(text);
    out.reasoning = std::move(delta.reasoning_delta);
    impl_->answer(delta.content_delta, /*at_end=*/false, out);
  } else {
    impl_->answer(text, /*at_end=*/false, out);
  }
  return out;
}

OutputDelta OutputParser::finish() {
  OutputDelta out;
  std::string answer_tail;
  if (impl_->reasoning) {
    text::ReasoningDelta delta = impl_->reasoning->finish();
    out.reasoning = std::move(delta.reasoning_delta);
    answer_tail = std::move(delta.content_delta);
  }
  impl_->answer(answer_tail, /*at_end=*/true, out);
  return out;
}

bool OutputParser::has_tool_calls() const { return impl_->saw_tool_calls; }

}  // namespace dsinfer::server
