// Splits DeepSeek-R1 output into reasoning (OpenAI "reasoning_content") and the answer ("content") at
// </think>. R1's chat template ends the prompt with "<think>\n", so the output usually has no opening tag;
// older templates let the model write "<think>" itself: both work. Whitespace around the reasoning and at the
// start of the answer is dropped. Streaming (push) and whole-text (parse) results agree for any split of the
// text.
#pragma once

#include <string>
#include <string_view>

namespace dsinfer::text {

struct ReasoningDelta {
  std::string reasoning_delta;
  std::string content_delta;
};

struct ReasoningSplit {
  std::string reasoning_content;
  std::string content;
};

class ReasoningParser {
 public:
  // starts_in_reasoning: the prompt opened the think block, so text before </think> is reasoning even without
  // "<think>". When false, only output that starts with "<think>" has reasoning.
  explicit ReasoningParser(bool starts_in_reasoning = true);

  ReasoningDelta push(std::string_view delta);
  // End of output: releases text held back in case it was the start of a tag. Output that never closes the
  // think block is all reasoning (it was cut off while thinking).
  ReasoningDelta finish();

  static ReasoningSplit parse(std::string_view text, bool starts_in_reasoning = true);

 private:
  enum class State { kStart, kReasoning, kContent };
  void process(ReasoningDelta& out, bool at_end);

  bool starts_in_reasoning_;
  State state_ = State::kStart;
  std::string pending_;           // text not yet emitted
  bool reasoning_begun_ = false;  // a non-whitespace reasoning character was emitted
  bool content_begun_ = false;    // a non-whitespace content character was emitted (after </think>)
  bool after_think_end_ = false;  // content follows </think>: its leading whitespace is dropped
};

}  // namespace dsinfer::text
