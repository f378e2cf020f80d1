// Unicode character classes used by the DeepSeek-V3 pre-tokenizer regexes, looked up from utf8proc.
//
// Hugging Face tokenizers runs the `Split` regexes with Oniguruma, whose \p{L}, \p{N}, \p{M}, \p{P}, \p{S}
// are Unicode general categories and whose \s is the White_Space property. We take the general category from
// utf8proc (Unicode 15.0 in Debian 12's utf8proc 2.8) and derive White_Space from it. Oniguruma in
// tokenizers 0.23 follows Unicode 16.0, so the two sides differ only on code points first assigned in
// Unicode 15.1 or 16.0 (unassigned here); tests/text/test_unicode_classes.cpp checks every code point.
#pragma once

#include <cstdint>

namespace dsinfer::text {

// Bits of the class set of a code point.
inline constexpr uint8_t kLetter = 1 << 0;       // \p{L}
inline constexpr uint8_t kNumber = 1 << 1;       // \p{N}
inline constexpr uint8_t kMark = 1 << 2;         // \p{M}
inline constexpr uint8_t kPunctuation = 1 << 3;  // \p{P}
inline constexpr uint8_t kSymbol = 1 << 4;       // \p{S}
inline constexpr uint8_t kWhitespace = 1 << 5;   // \s (White_Space)
// The literal range of the second pre-tokenizer regex: [\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff].
inline constexpr uint8_t kCjkKana = 1 << 6;

inline constexpr char32_t kMaxCodePoint = 0x10FFFF;

// Class bits of a code point (0 for code points in none of the classes, including surrogates).
uint8_t char_classes(char32_t code_point);

// Whether Rust's char::is_alphanumeric holds (used by the added-token `single_word` flag): approximated as
// general category L or N, which leaves out the Other_Alphabetic marks Rust also counts.
bool is_alphanumeric(char32_t code_point);

// Whether the code point is unassigned (general category Cn) in the library's Unicode version.
bool is_unassigned(char32_t code_point);

// The Unicode version of the category data ("15.0.0").
const char* unicode_version();

}  // namespace dsinfer::text
