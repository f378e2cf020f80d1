#include "text/utf8.h"

namespace dsinfer::text {
namespace {

// Result of looking at the sequence that starts at one byte: how many bytes it spans and whether it is a
// well-formed character, an ill-formed maximal subpart, or a valid prefix cut off by the end of the input.
struct SequenceStep {
  enum Kind { kValid, kInvalid, kIncomplete } kind;
  size_t length;
};

// Well-formed byte sequences, Unicode Table 3-7: the lead byte fixes the length and the allowed range of
// the second byte; later bytes are always 80..BF.
SequenceStep classify_sequence(std::string_view bytes, size_t position) {
  const auto lead = static_cast<uint8_t>(bytes[position]);
  if (lead < 0x80) return {SequenceStep::kValid, 1};
  size_t length = 0;
  uint8_t second_low = 0x80, second_high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead == 0xE0) {
    length = 3, second_low = 0xA0;
  } else if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) {
    length = 3;
  } else if (lead == 0xED) {
    length = 3, second_high = 0x9F;
  } else if (lead == 0xF0) {
    length = 4, second_low = 0x90;
  } else if (lead >= 0xF1 && lead <= 0xF3) {
    length = 4;
  } else if (lead == 0xF4) {
    length = 4, second_high = 0x8F;
  } else {
    return {SequenceStep::kInvalid, 1};
  }
  for (size_t offset = 1; offset < length; ++offset) {
    if (position + offset >= bytes.size()) return {SequenceStep::kIncomplete, offset};
    const auto byte = static_cast<uint8_t>(bytes[position + offset]);
    const uint8_t low = offset == 1 ? second_low : 0x80;
    const uint8_t high = offset == 1 ? second_high : 0xBF;
    if (byte < low || byte > high) return {SequenceStep::kInvalid, offset};
  }
  return {SequenceStep::kValid, length};
}

}  // namespace

void append_utf8(std::string& out, char32_t code_point) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

size_t find_invalid_utf8(std::string_view text) {
  size_t position = 0;
  while (position < text.size()) {
    if (static_cast<uint8_t>(text[position]) < 0x80) {
      ++position;
      continue;
    }
    const SequenceStep step = classify_sequence(text, position);
    if (step.kind != SequenceStep::kValid) return position;
    position += step.length;
  }
  return std::string_view::npos;
}

size_t count_code_points(std::string_view text) {
  size_t count = 0;
  for (char byte : text) count += (static_cast<uint8_t>(byte) & 0xC0) != 0x80;
  return count;
}

size_t append_utf8_lossy(std::string_view bytes, bool at_end, std::string& out) {
  size_t position = 0;
  while (position < bytes.size()) {
    const SequenceStep step = classify_sequence(bytes, position);
    if (step.kind == SequenceStep::kValid) {
      out.append(bytes.substr(position, step.length));
    } else if (step.kind == SequenceStep::kInvalid || at_end) {
      append_utf8(out, kReplacementCharacter);
    } else {
      break;  // a valid prefix that later bytes may complete
    }
    position += step.length;
  }
  return position;
}

}  // namespace dsinfer::text
