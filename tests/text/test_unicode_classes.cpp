// Every code point: our classes (utf8proc) against those of HF tokenizers' regex engine, recorded in
// data/hf-unicode-classes.json by make_hf_unicode_classes.py.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "text/unicode_classes.h"

namespace dsinfer::text {
namespace {

struct NamedClass {
  const char* name;
  uint8_t bit;
};
constexpr NamedClass kClasses[] = {{"L", kLetter},      {"N", kNumber}, {"M", kMark},
                                   {"P", kPunctuation}, {"S", kSymbol}, {"White_Space", kWhitespace}};

std::vector<uint8_t> hf_class_bits() {
  std::ifstream file(DSINFER_TEXT_TEST_DATA_DIR "/hf-unicode-classes.json");
  const auto table = nlohmann::json::parse(file);
  std::vector<uint8_t> bits(kMaxCodePoint + 1, 0);
  for (const auto& named : kClasses) {
    for (const auto& range : table["classes"][named.name]) {
      for (uint32_t code_point = range[0]; code_point <= range[1].get<uint32_t>(); ++code_point) {
        bits[code_point] |= named.bit;
      }
    }
  }
  return bits;
}

TEST(UnicodeClasses, LibraryVersionIsTheOneDocumented) {
  EXPECT_STREQ(unicode_version(), "15.0.0");
}

// The two sides may only differ where our Unicode version (15.0) has no character yet: HF's Oniguruma
// follows Unicode 16.0. Any other difference (a changed category, a wrong White_Space rule) fails.
TEST(UnicodeClasses, AgreeWithHuggingFaceExceptOnCodePointsNewerThanOurUnicodeVersion) {
  const std::vector<uint8_t> hf_bits = hf_class_bits();
  constexpr uint8_t kRegexClasses = kLetter | kNumber | kMark | kPunctuation | kSymbol | kWhitespace;
  size_t newer_characters = 0;
  for (char32_t code_point = 0; code_point <= kMaxCodePoint; ++code_point) {
    if (code_point >= 0xD800 && code_point <= 0xDFFF) continue;  // not characters; cannot occur in UTF-8
    const uint8_t ours = char_classes(code_point) & kRegexClasses;
    if (ours == hf_bits[code_point]) continue;
    ASSERT_TRUE(is_unassigned(code_point)) << "U+" << std::hex << uint32_t(code_point) << ": ours "
                                           << int(ours) << ", HF " << int(hf_bits[code_point]);
    ++newer_characters;
  }
  // Exactly the characters Unicode 15.1 (627) and 16.0 (5,185) added: each falls in one of the classes.
  EXPECT_EQ(newer_characters, 627u + 5185u);
}

TEST(UnicodeClasses, KnownExamples) {
  EXPECT_EQ(char_classes(U'a'), kLetter);
  EXPECT_EQ(char_classes(U'5'), kNumber);
  EXPECT_EQ(char_classes(U'\u0301'), kMark);
  EXPECT_EQ(char_classes(U'!'), kPunctuation);
  EXPECT_EQ(char_classes(U'$'), kSymbol);
  EXPECT_EQ(char_classes(U'\u3000'), kWhitespace);
  EXPECT_EQ(char_classes(U'\u0085'), kWhitespace);
  EXPECT_EQ(char_classes(U'\u200B'), 0);  // zero-width space is Cf, not White_Space
  EXPECT_EQ(char_classes(U'\u4E2D'), kLetter | kCjkKana);
  EXPECT_EQ(char_classes(U'\u30FB'), kPunctuation | kCjkKana);  // katakana middle dot
  EXPECT_EQ(char_classes(U'\u9FA6'), kLetter);                  // past the pre-tokenizer's CJK range
}

}  // namespace
}  // namespace dsinfer::text
