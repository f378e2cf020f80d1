#include "text/byte_level.h"

#include <array>

#include "text/utf8.h"

namespace dsinfer::text {
namespace {

// Printable bytes keep their code point; the 68 others are numbered from U+0100 in byte order.
bool is_printable_byte(unsigned byte) {
  return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE && byte <= 0xFF);
}

struct Alphabet {
  std::array<std::string, 256> spelling;      // byte -> UTF-8 of its character
  std::array<int16_t, 0x144> byte_of_char{};  // character (< U+0144) -> byte, or -1
};

const Alphabet& alphabet() {
  static const Alphabet table = [] {
    Alphabet result;
    result.byte_of_char.fill(-1);
    char32_t next_extra = 0x100;
    for (unsigned byte = 0; byte < 256; ++byte) {
      const char32_t character = is_printable_byte(byte) ? char32_t(byte) : next_extra++;
      append_utf8(result.spelling[byte], character);
      result.byte_of_char[character] = static_cast<int16_t>(byte);
    }
    return result;
  }();
  return table;
}

}  // namespace

std::string_view byte_level_spelling(unsigned char byte) {
  return alphabet().spelling[byte];
}

std::optional<std::string> byte_level_to_bytes(std::string_view token) {
  const Alphabet& table = alphabet();
  if (find_invalid_utf8(token) != std::string_view::npos) return std::nullopt;
  std::string bytes;
  bytes.reserve(token.size());
  size_t position = 0;
  while (position < token.size()) {
    const char32_t character = decode_utf8(token, position);
    if (character >= table.byte_of_char.size() || table.byte_of_char[character] < 0) return std::nullopt;
    bytes.push_back(static_cast<char>(table.byte_of_char[character]));
  }
  return bytes;
}

}  // namespace dsinfer::text
