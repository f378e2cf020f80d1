// JSON parsing for files whose readers must agree byte for byte with the reference implementations:
// the text must be valid UTF-8 and no object may repeat a key (nlohmann's parser silently keeps the last
// duplicate, Python's json keeps the last, Rust's serde rejects some: a repeated key is ambiguous, so it is
// an error here).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace dsinfer {

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF).
// On failure *error_offset (if given) is the byte offset of the first bad sequence.
bool is_valid_utf8(std::string_view text, size_t* error_offset = nullptr);

// Parses `text` as JSON. Throws dsinfer::Error "LABEL: ..." for invalid UTF-8, a syntax error or a repeated
// key; a repeated key at the top level is reported as a repeated `top_level_key_kind` ("tensor name", "key").
nlohmann::json parse_strict_json(std::string_view text, const std::string& label,
                                 std::string_view top_level_key_kind = "key");

}  // namespace dsinfer
