// Added tokens (tokenizer.json "added_tokens"): strings matched in the input before pre-tokenization, as
// tokenizers' AddedVocabulary does: leftmost-longest matching, then the single_word / lstrip / rstrip flags.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace dsinfer::text {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;      // removed by decode(skip_special_tokens = true)
  bool single_word = false;  // only matched when not inside a word
  bool lstrip = false;       // the match swallows whitespace on its left
  bool rstrip = false;       // the match swallows whitespace on its right
  bool normalized = false;   // matched on normalized text (a second pass; the normalizer must be empty here)
};

// Reads one "added_tokens" entry; `where` names it in errors.
AddedToken parse_added_token(const nlohmann::json& entry, const std::string& where);

// A match of an added token: bytes [begin, end) of the text (including stripped whitespace) become `id`.
struct AddedTokenMatch {
  size_t begin;
  size_t end;
  int32_t id;
};

// Finds one set of added tokens (tokenizers keeps two: normalized and not) in text.
class AddedTokenMatcher {
 public:
  explicit AddedTokenMatcher(const std::vector<AddedToken>& tokens);

  // Appends the matches in text, in order and not overlapping; offsets are relative to text.
  void find(std::string_view text, std::vector<AddedTokenMatch>& matches) const;

  bool empty() const { return tokens_.empty(); }

 private:
  // Byte trie over token contents: children sorted by byte; token_index >= 0 where a token ends.
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> children;
    int32_t token_index = -1;
  };
  int32_t child(int32_t node, unsigned char byte) const;
  // Index into tokens_ and length of the longest token starting at text[position], or {-1, 0}.
  std::pair<int32_t, size_t> longest_at(std::string_view text, size_t position) const;

  std::vector<AddedToken> tokens_;
  std::vector<Node> nodes_;
  bool first_bytes_[256] = {};  // whether some token starts with this byte: skips most positions fast
};

}  // namespace dsinfer::text
