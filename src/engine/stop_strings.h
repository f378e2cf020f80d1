// Stop strings matched in streamed text, across token boundaries. Text that could still turn out to be
// the start of a stop string is held back until the next piece decides it; nothing emitted is ever
// taken back. On a match the output ends just before the stop string (OpenAI semantics).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dsinfer {

class StopStringMatcher {
 public:
  explicit StopStringMatcher(std::vector<std::string> stop_strings);

  struct Result {
    std::string text;      // safe to emit now
    bool stopped = false;  // a stop string was found: `text` ends right before it
    std::string matched;   // the stop string found
  };

  // Appends the next piece of final text.
  Result push(std::string_view text);
  // The output ended for another reason: whatever was held back is emitted.
  std::string finish();

 private:
  std::vector<std::string> stop_strings_;
  std::string held_;  // received but not yet emitted; never contains a whole stop string
};

}  // namespace dsinfer
