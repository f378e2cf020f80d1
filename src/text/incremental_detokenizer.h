// Streaming decode: feed generated ids one at a time and get text as soon as it is final. Text is final when
// no later token can change it; with the byte-level decoder that is every complete UTF-8 character and every
// ill-formed sequence already known to be ill-formed (emitted as U+FFFD exactly as decode() does). So the
// concatenation of everything push() and finish() return equals Tokenizer::decode of all the ids.
#pragma once

#include <cstdint>
#include <string>

#include "text/tokenizer.h"

namespace dsinfer::text {

class IncrementalDetokenizer {
 public:
  // The tokenizer must outlive this object.
  explicit IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens);

  // Text that became final with this id (often "", e.g. within a multi-byte character).
  std::string push(int32_t id);
  // The rest at the end of the stream: an unfinished character becomes U+FFFD.
  std::string finish();

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_tokens_;
  std::string pending_bytes_;  // the bytes of an unfinished UTF-8 character (at most 3)
};

}  // namespace dsinfer::text
