// A piece of a rendered prompt and where it came from. The chat template marks text that came from the
// request (message content, tool arguments, ...) as user_supplied so that the tokenizer encodes it as plain
// text: a user who writes "<｜User｜>" gets the characters, not the control token.
#pragma once

#include <string>

namespace dsinfer::text {

struct PromptSegment {
  std::string text;
  bool user_supplied = false;
};

}  // namespace dsinfer::text
