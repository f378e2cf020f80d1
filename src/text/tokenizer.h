// The DeepSeek-V3/R1 tokenizer, read from a model folder's tokenizer.json and tokenizer_config.json, matching
// Hugging Face tokenizers' encode(text, add_special_tokens=False) and decode(ids, skip_special_tokens).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "text/prompt_segment.h"

namespace dsinfer::text {

class Tokenizer {
 public:
  // Reads DIR/tokenizer.json and DIR/tokenizer_config.json; throws dsinfer::Error naming the file and field
  // when something is missing or not supported.
  static Tokenizer load(const std::string& model_dir);

  // Ids of text without BOS; added tokens (special or not) written in the text are matched, as HF does.
  // Throws dsinfer::Error if text is not valid UTF-8.
  std::vector<int32_t> encode(std::string_view text) const;
  // Ids of text without BOS, added-token strings NOT matched: for user-supplied content.
  std::vector<int32_t> encode_plain(std::string_view text) const;
  // Ids of a rendered prompt: added tokens are matched only in template segments; the text of all segments
  // between added tokens is pre-tokenized as one string, so a prompt without added-token strings in its
  // user-supplied parts encodes exactly as encode(joined text).
  std::vector<int32_t> encode_segments(std::span<const PromptSegment> segments) const;

  // Text of ids; invalid UTF-8 becomes U+FFFD as in HF; ids outside the vocabulary decode to nothing (as HF).
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens) const;
  // The bytes decode() emits for one id ("" for an unknown id): what the incremental detokenizer joins.
  std::string_view token_bytes(int32_t id) const;

  int32_t bos_id() const;  // -1 when tokenizer_config.json names no bos_token
  int32_t eos_id() const;  // -1 when tokenizer_config.json names no eos_token
  bool add_bos() const;    // tokenizer_config.json add_bos_token: prepend BOS to plain-text prompts
  const std::string& bos_token() const;
  const std::string& eos_token() const;
  // One more than the largest token id (vocabulary plus added tokens): 128815 for DeepSeek-V3. The model's
  // embedding table may be larger (129280); ids in between decode to nothing.
  size_t vocab_size() const;
  // Id of a token spelled as in tokenizer.json (added-token content, or a vocabulary entry in the byte-level
  // alphabet, e.g. "Ġthe").
  std::optional<int32_t> token_id(std::string_view token) const;
  bool is_special(int32_t id) const;

 private:
  struct Impl;
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace dsinfer::text
