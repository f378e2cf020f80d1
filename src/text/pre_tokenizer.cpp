#include "text/pre_tokenizer.h"

#include <array>
#include <cstdint>

#include "core/error.h"
#include "text/unicode_classes.h"
#include "text/utf8.h"

namespace dsinfer::text {
namespace {

constexpr const char* kNumberPattern = "\\p{N}{1,3}";
constexpr const char* kCjkPattern = "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+";
constexpr const char* kWordPattern =
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
    " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";

// Per-character flags: the Unicode class bits (low byte) plus the ASCII literals the third pattern names.
constexpr uint16_t kLineBreak = 1 << 8;     // \r or \n
constexpr uint16_t kSpace = 1 << 9;         // the literal ' '
constexpr uint16_t kAsciiPunct = 1 << 10;   // [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]
constexpr uint16_t kAsciiLetter = 1 << 11;  // [A-Za-z]

const std::array<uint16_t, 128>& ascii_flags() {
  static const std::array<uint16_t, 128> table = [] {
    std::array<uint16_t, 128> flags{};
    for (unsigned c = 0; c < 128; ++c) {
      uint16_t bits = char_classes(c);
      if (c == '\r' || c == '\n') bits |= kLineBreak;
      if (c == ' ') bits |= kSpace;
      if ((c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
          (c >= '{' && c <= '~')) {
        bits |= kAsciiPunct;
      }
      if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) bits |= kAsciiLetter;
      flags[c] = bits;
    }
    return flags;
  }();
  return table;
}

// The text as characters: byte offset (one extra entry for the end) and flags of each.
struct Characters {
  std::vector<uint32_t> offsets;
  std::vector<uint16_t> flags;
};

void decode_characters(std::string_view text, Characters& characters) {
  const auto& ascii = ascii_flags();
  characters.offsets.clear();
  characters.flags.clear();
  size_t position = 0;
  while (position < text.size()) {
    characters.offsets.push_back(static_cast<uint32_t>(position));
    const char32_t code_point = decode_utf8(text, position);
    characters.flags.push_back(code_point < 128 ? ascii[code_point] : char_classes(code_point));
  }
  characters.offsets.push_back(static_cast<uint32_t>(text.size()));
}

// End of the run of characters in [from, end) that have any of `mask`.
inline size_t run_end(const uint16_t* flags, size_t from, size_t end, uint16_t mask) {
  while (from < end && (flags[from] & mask)) ++from;
  return from;
}

// Pattern 3 at character i of the piece [i, end): returns the end of Oniguruma's match, or i when no
// alternative matches there. Alternatives are tried in order and the first that matches wins.
size_t match_word_pattern(const uint16_t* flags, size_t i, size_t end) {
  const uint16_t first = flags[i];
  const bool has_next = i + 1 < end;
  // [!"#...~][A-Za-z]+
  if ((first & kAsciiPunct) && has_next && (flags[i + 1] & kAsciiLetter)) {
    return run_end(flags, i + 1, end, kAsciiLetter);
  }
  // [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+ : a letter starts the run itself; any other allowed character is
  // taken by the optional class when letters or marks follow, and a mark with none after matches alone.
  if (first & kLetter) return run_end(flags, i + 1, end, kLetter | kMark);
  if (!(first & (kLineBreak | kPunctuation | kSymbol))) {
    if (has_next && (flags[i + 1] & (kLetter | kMark))) return run_end(flags, i + 1, end, kLetter | kMark);
    if (first & kMark) return i + 1;
  }
  // ' ?[\p{P}\p{S}]+[\r\n]*'
  const uint16_t punctuation_or_symbol = kPunctuation | kSymbol;
  size_t symbols_start = i;
  if ((first & kSpace) && has_next && (flags[i + 1] & punctuation_or_symbol)) symbols_start = i + 1;
  if (flags[symbols_start] & punctuation_or_symbol) {
    return run_end(flags, run_end(flags, symbols_start, end, punctuation_or_symbol), end, kLineBreak);
  }
  if (first & kWhitespace) {
    const size_t whitespace_end = run_end(flags, i, end, kWhitespace);
    // \s*[\r\n]+ : the greedy \s* backs off to the last line break of the whitespace run.
    for (size_t k = whitespace_end; k > i; --k) {
      if (flags[k - 1] & kLineBreak) return k;
    }
    // \s+(?!\S) : all of the run at the end of the piece, else all but its last character (if that leaves
    // one).
    if (whitespace_end == end) return end;
    if (whitespace_end - i >= 2) return whitespace_end - 1;
    // \s+
    return whitespace_end;
  }
  return i;
}

// Split with Isolated behaviour: every match and every gap between matches becomes a piece.
template <typename Matcher, typename Emit>
void split_isolated(const uint16_t* flags, size_t begin, size_t end, Matcher&& match, Emit&& emit) {
  size_t gap_start = begin;
  size_t i = begin;
  while (i < end) {
    const size_t match_end = match(flags, i, end);
    if (match_end == i) {
      ++i;
      continue;
    }
    if (gap_start < i) emit(gap_start, i);
    emit(i, match_end);
    i = gap_start = match_end;
  }
  if (gap_start < end) emit(gap_start, end);
}

// \p{N}{1,3}
size_t match_number_pattern(const uint16_t* flags, size_t i, size_t end) {
  size_t k = i;
  while (k < end && k - i < 3 && (flags[k] & kNumber)) ++k;
  return k;
}

// [\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+
size_t match_cjk_pattern(const uint16_t* flags, size_t i, size_t end) {
  return run_end(flags, i, end, kCjkKana);
}

}  // namespace

void check_pre_tokenizer_config(const nlohmann::json& pre_tokenizer, const std::string& file) {
  const std::array<std::string, 3> expected_patterns = {kNumberPattern, kCjkPattern, kWordPattern};
  auto unsupported = [&](const std::string& why) {
    fail(file, ": pre_tokenizer is not supported (", why,
         "); dsinfer implements the DeepSeek-V3 sequence of three Split regexes followed by ByteLevel "
         "without regex");
  };
  if (!pre_tokenizer.is_object() || pre_tokenizer.value("type", "") != "Sequence")
    unsupported("type is not Sequence");
  const auto& steps = pre_tokenizer.at("pretokenizers");
  if (!steps.is_array() || steps.size() != 4) unsupported("expected 4 steps");
  for (size_t index = 0; index < 3; ++index) {
    const auto& step = steps[index];
    const bool matches = step.value("type", "") == "Split" && step.value("behavior", "") == "Isolated" &&
                         !step.value("invert", false) && step.contains("pattern") &&
                         step["pattern"].value("Regex", "") == expected_patterns[index];
    if (!matches) unsupported("step " + std::to_string(index) + " is not the expected Split regex");
  }
  const auto& byte_level = steps[3];
  if (byte_level.value("type", "") != "ByteLevel" || byte_level.value("add_prefix_space", true) ||
      byte_level.value("use_regex", true)) {
    unsupported("step 3 is not ByteLevel without prefix space and without regex");
  }
}

void pre_tokenize(std::string_view text, std::vector<std::string_view>& pieces) {
  thread_local Characters characters;
  decode_characters(text, characters);
  const uint16_t* flags = characters.flags.data();
  const uint32_t* offsets = characters.offsets.data();
  auto emit_piece = [&](size_t begin, size_t end) {
    pieces.emplace_back(text.data() + offsets[begin], offsets[end] - offsets[begin]);
  };
  auto split_words = [&](size_t begin, size_t end) {
    split_isolated(flags, begin, end, match_word_pattern, emit_piece);
  };
  auto split_cjk = [&](size_t begin, size_t end) {
    split_isolated(flags, begin, end, match_cjk_pattern, split_words);
  };
  split_isolated(flags, 0, characters.flags.size(), match_number_pattern, split_cjk);
}

}  // namespace dsinfer::text
