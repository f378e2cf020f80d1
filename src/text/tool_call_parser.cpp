#include "text/tool_call_parser.h"

#include <algorithm>

namespace dsinfer::text {
namespace {

constexpr std::string_view kCallsBegin = "<｜tool▁calls▁begin｜>";
constexpr std::string_view kCallsEnd = "<｜tool▁calls▁end｜>";
constexpr std::string_view kCallBegin = "<｜tool▁call▁begin｜>";
constexpr std::string_view kCallEnd = "<｜tool▁call▁end｜>";
constexpr std::string_view kSeparator = "<｜tool▁sep｜>";
constexpr std::string_view kFence = "```";

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// Length of the longest suffix of text that is a proper prefix of marker.
size_t partial_marker_suffix(std::string_view text, std::string_view marker) {
  for (size_t length = std::min(text.size(), marker.size() - 1); length > 0; --length) {
    if (text.substr(text.size() - length) == marker.substr(0, length)) return length;
  }
  return 0;
}

// The end of the arguments text proper: before the trailing whitespace, closing fence and whitespace that
// precede <｜tool▁call▁end｜> (or may, while streaming).
size_t arguments_end(std::string_view text) {
  size_t end = text.size();
  while (end > 0 && is_space(text[end - 1])) --end;
  size_t backticks = 0;
  while (end > 0 && backticks < kFence.size() && text[end - 1] == '`') --end, ++backticks;
  while (backticks > 0 && end > 0 && is_space(text[end - 1])) --end;
  return end;
}

}  // namespace

nlohmann::json ToolCallChunk::to_openai_delta() const {
  nlohmann::json delta = {{"index", index}};
  if (starts_call) {
    delta["id"] = id;
    delta["type"] = type;
    delta["function"] = {{"name", name}, {"arguments", arguments_delta}};
  } else {
    delta["function"] = {{"arguments", arguments_delta}};
  }
  return delta;
}

ToolCallParser::ToolCallParser(std::string call_id_prefix) : call_id_prefix_(std::move(call_id_prefix)) {}

ToolCallDelta ToolCallParser::push(std::string_view delta) {
  pending_ += delta;
  ToolCallDelta out;
  process(out, false);
  return out;
}

ToolCallDelta ToolCallParser::finish() {
  ToolCallDelta out;
  process(out, true);
  return out;
}

ParsedToolCalls ToolCallParser::parse(std::string_view text, const std::string& call_id_prefix) {
  ToolCallParser parser(call_id_prefix);
  ParsedToolCalls result;
  for (const ToolCallDelta& delta : {parser.push(text), parser.finish()}) {
    result.content += delta.content_delta;
    for (const ToolCallChunk& chunk : delta.tool_calls) {
      if (chunk.starts_call) {
        result.tool_calls.push_back({{"id", chunk.id},
                                     {"type", chunk.type},
                                     {"function", {{"name", chunk.name}, {"arguments", ""}}}});
      }
      auto& arguments = result.tool_calls[size_t(chunk.index)]["function"]["arguments"];
      arguments = arguments.get<std::string>() + chunk.arguments_delta;
    }
  }
  return result;
}

void ToolCallParser::process(ToolCallDelta& out, bool at_end) {
  while (step(out, at_end)) {
  }
}

void ToolCallParser::finish_call(ToolCallDelta& out, std::string_view arguments_tail) {
  const std::string_view arguments = arguments_tail.substr(0, arguments_end(arguments_tail));
  if (!arguments.empty()) out.tool_calls.push_back({call_index_, false, "", "", "", std::string(arguments)});
  ++call_index_;
  arguments_begun_ = false;
}

bool ToolCallParser::step(ToolCallDelta& out, bool at_end) {
  const std::string_view text(pending_);
  switch (state_) {
    case State::kContent:
    case State::kAfterCalls: {
      const size_t calls = text.find(kCallsBegin), call = text.find(kCallBegin);
      if (state_ == State::kAfterCalls || (calls == std::string::npos && call == std::string::npos)) {
        // Hold back what may be the start of a marker.
        const size_t held =
            at_end || state_ == State::kAfterCalls
                ? 0
                : std::max(partial_marker_suffix(text, kCallsBegin), partial_marker_suffix(text, kCallBegin));
        out.content_delta += text.substr(0, text.size() - held);
        pending_.erase(0, text.size() - held);
        return false;
      }
      const bool whole_block = calls != std::string::npos && (call == std::string::npos || calls < call);
      const size_t marker = whole_block ? calls : call;
      out.content_delta += text.substr(0, marker);
      pending_.erase(0, marker + (whole_block ? kCallsBegin : kCallBegin).size());
      call_text_ = whole_block ? "" : std::string(kCallBegin);
      state_ = whole_block ? State::kBetweenCalls : State::kCallType;
      return true;
    }
    case State::kBetweenCalls: {
      const std::string_view rest = text.substr(std::min(text.size(), text.find_first_not_of(" \t\r\n")));
      if (rest.starts_with(kCallBegin)) {
        pending_.erase(0, size_t(rest.data() - text.data()) + kCallBegin.size());
        call_text_ = std::string(kCallBegin);
        state_ = State::kCallType;
        return true;
      }
      if (rest.starts_with(kCallsEnd)) {
        pending_.erase(0, size_t(rest.data() - text.data()) + kCallsEnd.size());
        state_ = State::kAfterCalls;
        return true;
      }
      if (!at_end && (kCallBegin.starts_with(rest) || kCallsEnd.starts_with(rest))) return false;
      if (at_end && rest.empty()) {
        pending_.clear();
        return false;
      }
      state_ = State::kContent;  // something else follows the calls: it is content
      pending_.erase(0, size_t(rest.data() - text.data()));
      return true;
    }
    case State::kCallType: {
      const size_t separator = text.find(kSeparator);
      if (separator == std::string::npos) {
        if (!at_end) return false;
        out.content_delta += call_text_ + pending_;  // cut off before the name: give the text back as content
        pending_.clear();
        return false;
      }
      call_type_ = std::string(trim(text.substr(0, separator)));
      call_text_ += text.substr(0, separator + kSeparator.size());
      pending_.erase(0, separator + kSeparator.size());
      state_ = State::kName;
      return true;
    }
    case State::kName: {
      const size_t newline = text.find('\n'), fence = text.find(kFence), end = text.find(kCallEnd);
      const size_t name_end = std::min({newline, fence, end});
      if (name_end == std::string::npos) {
        if (!at_end) return false;
        out.content_delta += call_text_ + pending_;
        pending_.clear();
        return false;
      }
      ToolCallChunk chunk;
      chunk.index = call_index_;
      chunk.starts_call = true;
      chunk.id = call_id_prefix_ + "_" + std::to_string(call_index_);
      chunk.type = call_type_.empty() ? "function" : call_type_;
      chunk.name = std::string(trim(text.substr(0, name_end)));
      out.tool_calls.push_back(std::move(chunk));
      call_text_.clear();
      pending_.erase(0, name_end == newline ? name_end + 1 : name_end);
      state_ = State::kArgumentsOpen;
      return true;
    }
    case State::kArgumentsOpen: {
      // An optional code fence line: "```json\n".
      const std::string_view rest = text.substr(std::min(text.size(), text.find_first_not_of(" \t\r\n")));
      if (rest.starts_with(kFence)) {
        const size_t line_end = rest.find('\n');
        if (line_end == std::string::npos) {
          if (!at_end) return false;
          pending_.clear();
          finish_call(out, "");
          return false;
        }
        pending_.erase(0, size_t(rest.data() - text.data()) + line_end + 1);
      } else if (!at_end && kFence.starts_with(rest)) {
        return false;
      }
      state_ = State::kArguments;
      return true;
    }
    case State::kArguments: {
      if (!arguments_begun_) {
        pending_.erase(0, std::min(pending_.size(), pending_.find_first_not_of(" \t\r\n")));
        arguments_begun_ = !pending_.empty();
      }
      const std::string_view arguments(pending_);
      const size_t end = arguments.find(kCallEnd);
      if (end != std::string::npos) {
        finish_call(out, arguments.substr(0, end));
        pending_.erase(0, end + kCallEnd.size());
        state_ = State::kBetweenCalls;
        return true;
      }
      if (at_end) {
        finish_call(out, arguments);
        pending_.clear();
        return false;
      }
      // Emit all but what may still turn out to be the closing fence and <｜tool▁call▁end｜>.
      const size_t safe =
          arguments_end(arguments.substr(0, arguments.size() - partial_marker_suffix(arguments, kCallEnd)));
      if (safe > 0)
        out.tool_calls.push_back({call_index_, false, "", "", "", std::string(arguments.substr(0, safe))});
      pending_.erase(0, safe);
      return false;
    }
  }
  return false;
}

}  // namespace dsinfer::text
