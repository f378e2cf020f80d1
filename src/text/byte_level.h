// GPT-2 byte-level alphabet: each of the 256 byte values is spelled as one printable character in the
// vocabulary (printable Latin-1 bytes as themselves, the rest as U+0100..U+0143), so that BPE tokens are
// strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dsinfer::text {

// The UTF-8 spelling of one byte in the byte-level alphabet.
std::string_view byte_level_spelling(unsigned char byte);

// Maps a vocabulary token spelled in the byte-level alphabet back to raw bytes; std::nullopt when some
// character is outside the alphabet (added tokens such as "<｜User｜>").
std::optional<std::string> byte_level_to_bytes(std::string_view token);

}  // namespace dsinfer::text
