#include "text/jinja/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "text/unicode_classes.h"
#include "text/utf8.h"

namespace dsinfer::text::jinja {

TaggedString TaggedString::from_user(std::string text) {
  TaggedString result{std::move(text), {}};
  if (!result.text.empty()) result.user_ranges.emplace_back(0, result.text.size());
  return result;
}

void TaggedString::append(const TaggedString& other) {
  const size_t shift = text.size();
  text += other.text;
  for (const auto& [begin, end] : other.user_ranges) {
    if (!user_ranges.empty() && user_ranges.back().second == begin + shift) {
      user_ranges.back().second = end + shift;  // keep ranges non-adjacent
    } else {
      user_ranges.emplace_back(begin + shift, end + shift);
    }
  }
}

TaggedString TaggedString::substring(size_t begin, size_t length) const {
  const size_t end = begin + length;
  TaggedString result{text.substr(begin, length), {}};
  for (const auto& [range_begin, range_end] : user_ranges) {
    const size_t clipped_begin = std::max(range_begin, begin), clipped_end = std::min(range_end, end);
    if (clipped_begin < clipped_end)
      result.user_ranges.emplace_back(clipped_begin - begin, clipped_end - begin);
  }
  return result;
}

TaggedString TaggedString::derived(std::string new_text) const {
  return has_user_text() ? from_user(std::move(new_text)) : from_template(std::move(new_text));
}

const Value* Dict::find(std::string_view key) const {
  for (const auto& [entry_key, value] : entries) {
    if (entry_key == key) return &value;
  }
  return nullptr;
}

void Dict::set(std::string key, Value value) {
  for (auto& [entry_key, entry_value] : entries) {
    if (entry_key == key) {
      entry_value = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

const char* Value::type_name() const {
  if (is_undefined()) return "Undefined";
  if (is_none()) return "NoneType";
  if (is_boolean()) return "bool";
  if (is_integer()) return "int";
  if (is_float()) return "float";
  if (is_string()) return "str";
  if (is_list()) return "list";
  if (is_dict()) return "dict";
  if (is_namespace()) return "Namespace";
  return "function";
}

bool Value::truthy() const {
  if (is_undefined() || is_none()) return false;
  if (is_boolean()) return as_boolean();
  if (is_integer()) return as_integer() != 0;
  if (is_float()) return as_float() != 0.0;
  if (is_string()) return !text().empty();
  if (is_list()) return !as_list().empty();
  if (is_dict()) return !as_dict().entries.empty();
  return true;
}

bool values_equal(const Value& left, const Value& right) {
  if (left.is_undefined() || right.is_undefined()) return left.is_undefined() && right.is_undefined();
  if (left.is_none() || right.is_none()) return left.is_none() && right.is_none();
  if (left.is_number() && right.is_number()) {
    if (left.is_float() || right.is_float()) return left.as_float() == right.as_float();
    return left.as_integer() == right.as_integer();
  }
  if (left.is_string() && right.is_string()) return left.text() == right.text();
  if (left.is_list() && right.is_list()) {
    const List &a = left.as_list(), &b = right.as_list();
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!values_equal(a[i], b[i])) return false;
    }
    return true;
  }
  if (left.is_dict() && right.is_dict()) {
    const Dict &a = left.as_dict(), &b = right.as_dict();
    if (a.entries.size() != b.entries.size()) return false;
    for (const auto& [key, value] : a.entries) {
      const Value* other = b.find(key);
      if (other == nullptr || !values_equal(value, *other)) return false;
    }
    return true;
  }
  if (left.is_namespace() && right.is_namespace()) return &left.as_namespace() == &right.as_namespace();
  if (left.is_callable() && right.is_callable()) return &left.as_callable() == &right.as_callable();
  return false;
}

std::string python_float_repr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (value == 0.0) return std::signbit(value) ? "-0.0" : "0.0";
  // Shortest round-trip digits in scientific form: "d.ddde+XX".
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::scientific);
  const std::string scientific(buffer, result.ptr);
  const size_t exponent_at = scientific.find('e');
  const int exponent = std::stoi(scientific.substr(exponent_at + 1));
  const bool negative = scientific[0] == '-';
  std::string digits;
  for (size_t i = negative ? 1 : 0; i < exponent_at; ++i) {
    if (scientific[i] != '.') digits += scientific[i];
  }
  std::string out = negative ? "-" : "";
  // Python switches to exponent notation when the decimal point is more than 16 digits right or 4 left.
  if (exponent < -4 || exponent >= 16) {
    out += digits[0];
    if (digits.size() > 1) {
      out += '.';
      out.append(digits, 1);
    }
    char exponent_text[16];
    std::snprintf(exponent_text, sizeof(exponent_text), "e%c%02d", exponent < 0 ? '-' : '+',
                  std::abs(exponent));
    out += exponent_text;
  } else if (exponent < 0) {
    out += "0.";
    out.append(size_t(-exponent - 1), '0');
    out += digits;
  } else {
    const size_t integer_digits = size_t(exponent) + 1;
    if (digits.size() <= integer_digits) {
      out += digits;
      out.append(integer_digits - digits.size(), '0');
      out += ".0";
    } else {
      out.append(digits, 0, integer_digits);
      out += '.';
      out.append(digits, integer_digits);
    }
  }
  return out;
}

namespace {

// Python's str.isprintable() for one character, used by repr: separators and "other" categories are escaped.
bool is_printable_for_repr(char32_t code_point) {
  if (code_point == ' ') return true;
  if (code_point < 0x20 || code_point == 0x7F) return false;
  if (code_point < 0x7F) return true;
  const uint8_t classes = char_classes(code_point);
  if (classes & kWhitespace) return false;  // Zs, Zl, Zp (and controls)
  return (classes & (kLetter | kNumber | kMark | kPunctuation | kSymbol)) != 0;
}

std::string python_string_repr(std::string_view text) {
  const bool has_single = text.find('\'') != std::string_view::npos;
  const bool has_double = text.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  size_t position = 0;
  while (position < text.size()) {
    const char32_t code_point = decode_utf8(text, position);
    if (code_point == char32_t(quote) || code_point == '\\') {
      out += '\\';
      out += char(code_point);
    } else if (code_point == '\n') {
      out += "\\n";
    } else if (code_point == '\r') {
      out += "\\r";
    } else if (code_point == '\t') {
      out += "\\t";
    } else if (is_printable_for_repr(code_point)) {
      append_utf8(out, code_point);
    } else {
      char escaped[16];
      if (code_point < 0x100) {
        std::snprintf(escaped, sizeof(escaped), "\\x%02x", unsigned(code_point));
      } else if (code_point < 0x10000) {
        std::snprintf(escaped, sizeof(escaped), "\\u%04x", unsigned(code_point));
      } else {
        std::snprintf(escaped, sizeof(escaped), "\\U%08x", unsigned(code_point));
      }
      out += escaped;
    }
  }
  return out + quote;
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (byte < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", unsigned(byte));
          out += escaped;
        } else {
          out += c;  // ensure_ascii=False: other characters as they are
        }
    }
  }
  out += '"';
}

void append_json(std::string& out, const Value& value, int indent, int depth) {
  auto newline = [&](int level) {
    if (indent < 0) return;
    out += '\n';
    out.append(size_t(indent) * size_t(level), ' ');
  };
  const char* item_separator = indent < 0 ? ", " : ",";
  if (value.is_none()) {
    out += "null";
  } else if (value.is_boolean()) {
    out += value.as_boolean() ? "true" : "false";
  } else if (value.is_integer()) {
    out += std::to_string(value.as_integer());
  } else if (value.is_float()) {
    const double number = value.as_float();
    out += std::isnan(number)   ? "NaN"
           : std::isinf(number) ? (number > 0 ? "Infinity" : "-Infinity")
                                : python_float_repr(number);
  } else if (value.is_string()) {
    append_json_string(out, value.text());
  } else if (value.is_list()) {
    const List& items = value.as_list();
    if (items.empty()) {
      out += "[]";
      return;
    }
    out += '[';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out += item_separator;
      newline(depth + 1);
      append_json(out, items[i], indent, depth + 1);
    }
    newline(depth);
    out += ']';
  } else if (value.is_dict() || value.is_namespace()) {
    const Dict& dict = value.is_dict() ? value.as_dict() : value.as_namespace().attributes;
    if (dict.entries.empty()) {
      out += "{}";
      return;
    }
    out += '{';
    for (size_t i = 0; i < dict.entries.size(); ++i) {
      if (i > 0) out += item_separator;
      newline(depth + 1);
      append_json_string(out, dict.entries[i].first);
      out += ": ";
      append_json(out, dict.entries[i].second, indent, depth + 1);
    }
    newline(depth);
    out += '}';
  } else {
    fail("tojson: a value of type ", value.type_name(), " is not JSON serializable");
  }
}

}  // namespace

std::string python_repr(const Value& value) {
  if (value.is_string()) return python_string_repr(value.text());
  if (value.is_list()) {
    std::string out = "[";
    const List& items = value.as_list();
    for (size_t i = 0; i < items.size(); ++i) out += (i > 0 ? ", " : "") + python_repr(items[i]);
    return out + "]";
  }
  if (value.is_dict()) {
    std::string out = "{";
    const Dict& dict = value.as_dict();
    for (size_t i = 0; i < dict.entries.size(); ++i) {
      out += (i > 0 ? ", " : "") + python_string_repr(dict.entries[i].first) + ": " +
             python_repr(dict.entries[i].second);
    }
    return out + "}";
  }
  return to_output_string(value).text;
}

TaggedString to_output_string(const Value& value) {
  if (value.is_string()) return value.as_string();
  if (value.is_undefined()) return {};
  if (value.is_none()) return TaggedString::from_template("None");
  if (value.is_boolean()) return TaggedString::from_template(value.as_boolean() ? "True" : "False");
  if (value.is_integer()) return TaggedString::from_template(std::to_string(value.as_integer()));
  if (value.is_float()) return TaggedString::from_template(python_float_repr(value.as_float()));
  if (value.is_namespace()) return TaggedString::from_template("<Namespace>");
  if (value.is_callable()) return TaggedString::from_template("<function " + value.as_callable().name + ">");
  // Containers print their repr; any user text inside makes the whole of it user-supplied.
  std::string repr = python_repr(value);
  return has_user_text(value) ? TaggedString::from_user(std::move(repr))
                              : TaggedString::from_template(std::move(repr));
}

bool has_user_text(const Value& value) {
  if (value.is_string()) return value.as_string().has_user_text();
  if (value.is_list()) {
    for (const Value& item : value.as_list()) {
      if (has_user_text(item)) return true;
    }
  }
  if (value.is_dict() || value.is_namespace()) {
    const Dict& dict = value.is_dict() ? value.as_dict() : value.as_namespace().attributes;
    if (dict.keys_from_user && !dict.entries.empty()) return true;
    for (const auto& entry : dict.entries) {
      if (has_user_text(entry.second)) return true;
    }
  }
  return false;
}

std::string to_json_text(const Value& value, int indent) {
  std::string out;
  append_json(out, value, indent, 0);
  return out;
}

template <typename Json>
Value from_json(const Json& json, bool from_user, size_t max_depth) {
  DSINFER_CHECK(max_depth > 0, "chat template input is nested too deeply (more levels than the limit)");
  switch (json.type()) {
    case Json::value_t::null:
      return Value::none();
    case Json::value_t::boolean:
      return Value(json.template get<bool>());
    case Json::value_t::number_integer:
      return Value(json.template get<int64_t>());
    case Json::value_t::number_unsigned:
      DSINFER_CHECK(json.template get<uint64_t>() <= uint64_t(INT64_MAX),
                    "chat template input has an integer too large: ", json.dump());
      return Value(static_cast<int64_t>(json.template get<uint64_t>()));
    case Json::value_t::number_float:
      return Value(json.template get<double>());
    case Json::value_t::string: {
      std::string text = json.template get<std::string>();
      return Value(from_user ? TaggedString::from_user(std::move(text))
                             : TaggedString::from_template(std::move(text)));
    }
    case Json::value_t::array: {
      List items;
      items.reserve(json.size());
      for (const auto& item : json) items.push_back(from_json(item, from_user, max_depth - 1));
      return Value(std::move(items));
    }
    case Json::value_t::object: {
      Dict dict;
      dict.keys_from_user = from_user;
      dict.entries.reserve(json.size());
      for (const auto& [key, item] : json.items())
        dict.entries.emplace_back(key, from_json(item, from_user, max_depth - 1));
      return Value(std::move(dict));
    }
    default:
      fail("chat template input has an unsupported JSON value: ", json.dump());
  }
}

template Value from_json(const nlohmann::json&, bool, size_t);
template Value from_json(const nlohmann::ordered_json&, bool, size_t);

}  // namespace dsinfer::text::jinja
