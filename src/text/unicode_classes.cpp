#include "text/unicode_classes.h"

#include <utf8proc.h>

#include <memory>

namespace dsinfer::text {
namespace {

uint8_t classes_from_library(char32_t code_point) {
  const auto cp = static_cast<utf8proc_int32_t>(code_point);
  uint8_t bits = 0;
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      bits |= kLetter;
      break;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
      bits |= kMark;
      break;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      bits |= kNumber;
      break;
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      bits |= kPunctuation;
      break;
    case UTF8PROC_CATEGORY_SM:
    case UTF8PROC_CATEGORY_SC:
    case UTF8PROC_CATEGORY_SK:
    case UTF8PROC_CATEGORY_SO:
      bits |= kSymbol;
      break;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
      bits |= kWhitespace;
      break;
    default:
      break;
  }
  // White_Space is Zs, Zl, Zp plus these controls (PropList.txt; stable since Unicode 6.3).
  if ((code_point >= 0x09 && code_point <= 0x0D) || code_point == 0x85) bits |= kWhitespace;
  if ((code_point >= 0x4E00 && code_point <= 0x9FA5) || (code_point >= 0x3040 && code_point <= 0x30FF)) {
    bits |= kCjkKana;
  }
  return bits;
}

// One byte per code point (1.1 MB), filled once from utf8proc: the pre-tokenizer looks up every character.
const uint8_t* class_table() {
  static const std::unique_ptr<uint8_t[]> table = [] {
    auto bits = std::make_unique<uint8_t[]>(kMaxCodePoint + 1);
    for (char32_t code_point = 0; code_point <= kMaxCodePoint; ++code_point) {
      bits[code_point] = classes_from_library(code_point);
    }
    return bits;
  }();
  return table.get();
}

}  // namespace

uint8_t char_classes(char32_t code_point) {
  return code_point <= kMaxCodePoint ? class_table()[code_point] : 0;
}

bool is_alphanumeric(char32_t code_point) {
  return (char_classes(code_point) & (kLetter | kNumber)) != 0;
}

bool is_unassigned(char32_t code_point) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(code_point)) == UTF8PROC_CATEGORY_CN;
}

const char* unicode_version() {
  return utf8proc_unicode_version();
}

}  // namespace dsinfer::text
