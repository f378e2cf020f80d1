#include "text/reasoning_parser.h"

#include <algorithm>

namespace dsinfer::text {
namespace {

constexpr std::string_view kThinkBegin = "<think>";
constexpr std::string_view kThinkEnd = "</think>";

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Length of the longest suffix of text that is a proper prefix of tag (it may become the tag).
size_t partial_tag_suffix(std::string_view text, std::string_view tag) {
  for (size_t length = std::min(text.size(), tag.size() - 1); length > 0; --length) {
    if (text.substr(text.size() - length) == tag.substr(0, length)) return length;
  }
  return 0;
}

size_t leading_spaces(std::string_view text) {
  size_t count = 0;
  while (count < text.size() && is_space(text[count])) ++count;
  return count;
}

size_t without_trailing_spaces(std::string_view text) {
  size_t end = text.size();
  while (end > 0 && is_space(text[end - 1])) --end;
  return end;
}

}  // namespace

ReasoningParser::ReasoningParser(bool starts_in_reasoning) : starts_in_reasoning_(starts_in_reasoning) {}

ReasoningDelta ReasoningParser::push(std::string_view delta) {
  pending_ += delta;
  ReasoningDelta out;
  process(out, false);
  return out;
}

ReasoningDelta ReasoningParser::finish() {
  ReasoningDelta out;
  process(out, true);
  return out;
}

ReasoningSplit ReasoningParser::parse(std::string_view text, bool starts_in_reasoning) {
  ReasoningParser parser(starts_in_reasoning);
  ReasoningDelta first = parser.push(text), last = parser.finish();
  return {first.reasoning_delta + last.reasoning_delta, first.content_delta + last.content_delta};
}

void ReasoningParser::process(ReasoningDelta& out, bool at_end) {
  if (state_ == State::kStart) {
    // Wait until it is known whether the output opens with <think> (leading whitespace allowed).
    const std::string_view rest = std::string_view(pending_).substr(leading_spaces(pending_));
    if (rest.starts_with(kThinkBegin)) {
      pending_.erase(0, size_t(rest.data() - pending_.data()) + kThinkBegin.size());
      state_ = State::kReasoning;
    } else if (!at_end && kThinkBegin.starts_with(rest)) {
      return;
    } else {
      state_ = starts_in_reasoning_ ? State::kReasoning : State::kContent;
    }
  }
  if (state_ == State::kReasoning) {
    if (!reasoning_begun_) {
      pending_.erase(0, leading_spaces(pending_));
      reasoning_begun_ = !pending_.empty();
    }
    const size_t end_tag = pending_.find(kThinkEnd);
    if (end_tag == std::string::npos) {
      // Hold back what may be the start of </think> and the whitespace before it (dropped if </think>
      // follows).
      const std::string_view text(pending_);
      size_t emit = at_end ? text.size() : text.size() - partial_tag_suffix(text, kThinkEnd);
      emit = without_trailing_spaces(text.substr(0, emit));
      out.reasoning_delta += pending_.substr(0, emit);
      pending_.erase(0, at_end ? pending_.size() : emit);
      return;
    }
    out.reasoning_delta +=
        pending_.substr(0, without_trailing_spaces(std::string_view(pending_).substr(0, end_tag)));
    pending_.erase(0, end_tag + kThinkEnd.size());
    state_ = State::kContent;
    after_think_end_ = true;
  }
  // Content: everything passes through, except the whitespace that starts the answer after </think>.
  if (after_think_end_ && !content_begun_) {
    pending_.erase(0, leading_spaces(pending_));
    content_begun_ = !pending_.empty();
  }
  out.content_delta += pending_;
  pending_.clear();
}

}  // namespace dsinfer::text
