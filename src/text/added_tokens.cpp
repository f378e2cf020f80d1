#include "text/added_tokens.h"

#include <algorithm>

#include "core/error.h"
#include "text/unicode_classes.h"
#include "text/utf8.h"

namespace dsinfer::text {
namespace {

bool read_flag(const nlohmann::json& entry, const char* name, const std::string& where) {
  if (!entry.contains(name)) return false;
  DSINFER_CHECK(entry[name].is_boolean(), where, ".", name, " must be true or false");
  return entry[name].get<bool>();
}

// The first / last code point of valid UTF-8 text.
char32_t first_code_point(std::string_view text) {
  size_t position = 0;
  return decode_utf8(text, position);
}
char32_t last_code_point(std::string_view text) {
  size_t start = text.size() - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return decode_utf8(text, start);
}
bool is_whitespace(char32_t code_point) {
  return (char_classes(code_point) & kWhitespace) != 0;
}

// Start of the whitespace run that ends text (text.size() when none).
size_t whitespace_suffix_start(std::string_view text) {
  size_t end = text.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    size_t position = start;
    if (!is_whitespace(decode_utf8(text, position))) break;
    end = start;
  }
  return end;
}

// Length of the whitespace run that starts text.
size_t whitespace_prefix_length(std::string_view text) {
  size_t position = 0;
  while (position < text.size()) {
    size_t next = position;
    if (!is_whitespace(decode_utf8(text, next))) break;
    position = next;
  }
  return position;
}

}  // namespace

AddedToken parse_added_token(const nlohmann::json& entry, const std::string& where) {
  DSINFER_CHECK(entry.is_object() && entry.contains("id") && entry["id"].is_number_integer() &&
                    entry.contains("content") && entry["content"].is_string(),
                where, " must be an object with an integer \"id\" and a string \"content\"");
  AddedToken token;
  token.id = entry["id"].get<int32_t>();
  token.content = entry["content"].get<std::string>();
  DSINFER_CHECK(token.id >= 0, where, ".id is negative");
  DSINFER_CHECK(!token.content.empty(), where, ".content is empty");
  DSINFER_CHECK(find_invalid_utf8(token.content) == std::string_view::npos, where,
                ".content is not valid UTF-8");
  token.special = read_flag(entry, "special", where);
  token.single_word = read_flag(entry, "single_word", where);
  token.lstrip = read_flag(entry, "lstrip", where);
  token.rstrip = read_flag(entry, "rstrip", where);
  token.normalized = read_flag(entry, "normalized", where);
  return token;
}

AddedTokenMatcher::AddedTokenMatcher(const std::vector<AddedToken>& tokens) : tokens_(tokens), nodes_(1) {
  for (size_t index = 0; index < tokens_.size(); ++index) {
    const std::string& content = tokens_[index].content;
    first_bytes_[static_cast<unsigned char>(content[0])] = true;
    int32_t node = 0;
    for (char c : content) {
      const auto byte = static_cast<unsigned char>(c);
      int32_t next = child(node, byte);
      if (next < 0) {
        next = static_cast<int32_t>(nodes_.size());
        auto& children = nodes_[node].children;
        children.insert(std::lower_bound(children.begin(), children.end(), std::make_pair(byte, int32_t(-1))),
                        {byte, next});
        nodes_.emplace_back();
      }
      node = next;
    }
    nodes_[node].token_index = static_cast<int32_t>(index);
  }
}

int32_t AddedTokenMatcher::child(int32_t node, unsigned char byte) const {
  const auto& children = nodes_[node].children;
  auto found = std::lower_bound(children.begin(), children.end(), std::make_pair(byte, int32_t(-1)));
  return found != children.end() && found->first == byte ? found->second : -1;
}

std::pair<int32_t, size_t> AddedTokenMatcher::longest_at(std::string_view text, size_t position) const {
  std::pair<int32_t, size_t> best{-1, 0};
  int32_t node = 0;
  for (size_t offset = position; offset < text.size(); ++offset) {
    node = child(node, static_cast<unsigned char>(text[offset]));
    if (node < 0) break;
    if (nodes_[node].token_index >= 0) best = {nodes_[node].token_index, offset + 1 - position};
  }
  return best;
}

void AddedTokenMatcher::find(std::string_view text, std::vector<AddedTokenMatch>& matches) const {
  if (tokens_.empty()) return;
  size_t previous_end = 0;  // end of the previous accepted match: lstrip never reaches back past it
  size_t position = 0;
  while (position < text.size()) {
    if (!first_bytes_[static_cast<unsigned char>(text[position])]) {
      ++position;
      continue;
    }
    const auto [token_index, length] = longest_at(text, position);
    if (token_index < 0) {
      ++position;
      continue;
    }
    const AddedToken& token = tokens_[token_index];
    size_t begin = position, end = position + length;
    position = end;  // matching resumes after this match even when single_word rejects it, as in tokenizers
    if (token.single_word) {
      const bool word_before = begin > 0 && is_alphanumeric(last_code_point(text.substr(0, begin)));
      const bool word_after = end < text.size() && is_alphanumeric(first_code_point(text.substr(end)));
      if (word_before || word_after) continue;
    }
    if (token.lstrip) begin = std::max(whitespace_suffix_start(text.substr(0, begin)), previous_end);
    if (token.rstrip) end += whitespace_prefix_length(text.substr(end));
    matches.push_back({begin, end, token.id});
    previous_end = end;
    position = std::max(position, end);
  }
}

}  // namespace dsinfer::text
