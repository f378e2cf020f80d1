#include "io/strict_json.h"

#include <unordered_set>
#include <vector>

#include "core/error.h"

namespace dsinfer {

bool is_valid_utf8(std::string_view text, size_t* error_offset) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  size_t size = text.size();
  size_t index = 0;
  while (index < size) {
    unsigned char lead = bytes[index];
    if (lead < 0x80) {
      ++index;
      continue;
    }
    // Allowed range of the first continuation byte depends on the lead byte (Unicode Table 3-7); the
    // narrowed ranges exclude overlong forms, UTF-16 surrogates and code points above U+10FFFF.
    size_t length;
    unsigned char second_low = 0x80, second_high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead == 0xe0) second_low = 0xa0;
      if (lead == 0xed) second_high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead == 0xf0) second_low = 0x90;
      if (lead == 0xf4) second_high = 0x8f;
    } else {
      if (error_offset) *error_offset = index;
      return false;
    }
    bool valid = index + length <= size && bytes[index + 1] >= second_low && bytes[index + 1] <= second_high;
    for (size_t offset = 2; valid && offset < length; ++offset) {
      valid = bytes[index + offset] >= 0x80 && bytes[index + offset] <= 0xbf;
    }
    if (!valid) {
      if (error_offset) *error_offset = index;
      return false;
    }
    index += length;
  }
  return true;
}

nlohmann::json parse_strict_json(std::string_view text, const std::string& label,
                                 std::string_view top_level_key_kind) {
  size_t bad_offset = 0;
  if (!is_valid_utf8(text, &bad_offset)) {
    fail(label, ": not valid UTF-8 (bad byte sequence at offset ", bad_offset, ")");
  }
  // One frame per open object: the keys seen so far and the key whose value is being parsed.
  struct ObjectFrame {
    std::unordered_set<std::string> keys;
    std::string current_key;
  };
  std::vector<ObjectFrame> open_objects;
  auto on_event = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) {
      open_objects.emplace_back();
    } else if (event == Event::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == Event::key && !open_objects.empty()) {
      ObjectFrame& frame = open_objects.back();
      std::string key = parsed.get<std::string>();
      if (!frame.keys.insert(key).second) {
        if (open_objects.size() == 1) {
          fail(label, ": ", top_level_key_kind, " \"", key, "\" appears more than once");
        }
        fail(label, ": key \"", key, "\" appears more than once inside \"", open_objects.front().current_key,
             "\"");
      }
      frame.current_key = std::move(key);
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), on_event);
  } catch (const nlohmann::json::exception& error) {  // parse_error, or out_of_range for a number like 1e400
    fail(label, ": not valid JSON (", error.what(), ")");
  }
}

}  // namespace dsinfer
