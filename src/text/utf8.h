// UTF-8 helpers shared by the tokenizer, the detokenizer and the Jinja interpreter.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dsinfer::text {

inline constexpr char32_t kReplacementCharacter = 0xFFFD;

// Decodes the code point at text[position] and advances position past it. The text must be valid UTF-8
// (callers check once with find_invalid_utf8); this is the hot path of pre-tokenization.
inline char32_t decode_utf8(std::string_view text, size_t& position) {
  const auto byte0 = static_cast<uint8_t>(text[position]);
  if (byte0 < 0x80) {
    position += 1;
    return byte0;
  }
  auto continuation = [&](size_t offset) { return static_cast<uint8_t>(text[position + offset]) & 0x3Fu; };
  char32_t code_point;
  if (byte0 < 0xE0) {
    code_point = (char32_t(byte0 & 0x1Fu) << 6) | continuation(1);
    position += 2;
  } else if (byte0 < 0xF0) {
    code_point = (char32_t(byte0 & 0x0Fu) << 12) | (char32_t(continuation(1)) << 6) | continuation(2);
    position += 3;
  } else {
    code_point = (char32_t(byte0 & 0x07u) << 18) | (char32_t(continuation(1)) << 12) |
                 (char32_t(continuation(2)) << 6) | continuation(3);
    position += 4;
  }
  return code_point;
}

void append_utf8(std::string& out, char32_t code_point);

// Byte offset of the first ill-formed sequence in text, or std::string_view::npos when it is valid UTF-8.
size_t find_invalid_utf8(std::string_view text);

// Number of code points in valid UTF-8 text.
size_t count_code_points(std::string_view text);

// Decodes bytes the way Rust's String::from_utf8_lossy does (and so Hugging Face tokenizers' decode): every
// "maximal subpart" of an ill-formed sequence becomes one U+FFFD (Unicode, chapter 3, "U+FFFD Substitution of
// Maximal Subparts"). When `at_end` is false, a trailing sequence that could still become valid with more
// bytes is left unconsumed. Appends to out and returns the number of bytes consumed.
size_t append_utf8_lossy(std::string_view bytes, bool at_end, std::string& out);

}  // namespace dsinfer::text
