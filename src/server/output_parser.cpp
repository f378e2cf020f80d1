#include "server/output_parser.h"

namespace dsinfer::server {

struct OutputParser::Impl {
  bool parse_reasoning;
  bool parse_tool_calls;
};

OutputParser::OutputParser(bool parse_reasoning, bool parse_tool_calls)
    : impl_(std::make_unique<Impl>(Impl{parse_reasoning, parse_tool_calls})) {}
OutputParser::~OutputParser() = default;
OutputParser::OutputParser(OutputParser&&) noexcept = default;
OutputParser& OutputParser::operator=(OutputParser&&) noexcept = default;

OutputDelta OutputParser::push(std::string_view text) {
  OutputDelta delta;
  delta.content.assign(text);
  return delta;
}

OutputDelta OutputParser::finish() { return {}; }

bool OutputParser::has_tool_calls() const { return false; }

}  // namespace dsinfer::server
