#include "text/incremental_detokenizer.h"

#include "text/utf8.h"

namespace dsinfer::text {

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(&tokenizer), skip_special_tokens_(skip_special_tokens) {}

std::string IncrementalDetokenizer::push(int32_t id) {
  if (skip_special_tokens_ && tokenizer_->is_special(id)) return {};
  pending_bytes_ += tokenizer_->token_bytes(id);
  std::string text;
  const size_t consumed = append_utf8_lossy(pending_bytes_, /*at_end=*/false, text);
  pending_bytes_.erase(0, consumed);
  return text;
}

std::string IncrementalDetokenizer::finish() {
  std::string text;
  append_utf8_lossy(pending_bytes_, /*at_end=*/true, text);
  pending_bytes_.clear();
  return text;
}

}  // namespace dsinfer::text
