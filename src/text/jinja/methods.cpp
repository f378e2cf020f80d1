// Methods of str and dict that chat templates call: "a,b".split(","), text.strip(), message.get("x"), ...
#include <utf8proc.h>

#include <memory>

#include "text/jinja/builtins.h"
#include "text/unicode_classes.h"
#include "text/utf8.h"

namespace dsinfer::text::jinja {
namespace {

// Python's str.isspace(): White_Space plus the information separators U+001C..U+001F.
bool is_python_space(char32_t code_point) {
  return (char_classes(code_point) & kWhitespace) || (code_point >= 0x1C && code_point <= 0x1F);
}

const std::string& string_argument(const Value& value, std::string_view method) {
  if (!value.is_string()) fail_template(method, "() argument must be str, not ", value.type_name());
  return value.text();
}

// Byte range of text left after stripping characters from either end: whitespace, or those in `characters`.
std::pair<size_t, size_t> strip_range(std::string_view text, const Value* characters, bool left, bool right) {
  const bool whitespace = characters == nullptr || characters->is_none();
  std::vector<std::string_view> strip_set;
  if (!whitespace) strip_set = split_characters(string_argument(*characters, "strip"));
  auto strippable = [&](std::string_view character) {
    if (whitespace) {
      size_t position = 0;
      return is_python_space(decode_utf8(character, position));
    }
    return std::find(strip_set.begin(), strip_set.end(), character) != strip_set.end();
  };
  const auto characters_of_text = split_characters(text);
  size_t first = 0, last = characters_of_text.size();
  while (left && first < last && strippable(characters_of_text[first])) ++first;
  while (right && last > first && strippable(characters_of_text[last - 1])) --last;
  if (first == last) return {0, 0};
  const size_t begin = size_t(characters_of_text[first].data() - text.data());
  const size_t end =
      size_t(characters_of_text[last - 1].data() - text.data()) + characters_of_text[last - 1].size();
  return {begin, end - begin};
}

Value strip_method(const Value& self, CallArguments& arguments, const char* name, bool left, bool right) {
  ArgumentReader reader(arguments, name, {"chars"});
  const auto [begin, length] = strip_range(self.text(), reader.find(0), left, right);
  return Value(self.as_string().substring(begin, length));
}

Value split_method(const Value& self, CallArguments& arguments) {
  ArgumentReader reader(arguments, "split", {"sep", "maxsplit"});
  const Value separator = reader.get(0, Value::none());
  int64_t max_splits = reader.get(1, Value(int64_t{-1})).as_integer();
  const TaggedString& text = self.as_string();
  List parts;
  if (separator.is_none()) {  // runs of whitespace separate; no empty parts
    const auto characters = split_characters(text.text);
    size_t i = 0;
    auto is_space_at = [&](size_t index) {
      size_t position = 0;
      return is_python_space(decode_utf8(characters[index], position));
    };
    while (i < characters.size()) {
      while (i < characters.size() && is_space_at(i)) ++i;
      if (i == characters.size()) break;
      const size_t begin = size_t(characters[i].data() - text.text.data());
      if (max_splits == 0) {
        const auto [rest_begin, rest_length] = strip_range(text.text.substr(begin), nullptr, false, true);
        parts.emplace_back(text.substring(begin + rest_begin, rest_length));
        break;
      }
      while (i < characters.size() && !is_space_at(i)) ++i;
      const size_t end =
          i < characters.size() ? size_t(characters[i].data() - text.text.data()) : text.text.size();
      parts.emplace_back(text.substring(begin, end - begin));
      if (max_splits > 0) --max_splits;
    }
  } else {
    const std::string& sep = string_argument(separator, "split");
    if (sep.empty()) fail_template("split(): empty separator");
    size_t begin = 0;
    while (max_splits != 0) {
      const size_t found = text.text.find(sep, begin);
      if (found == std::string::npos) break;
      parts.emplace_back(text.substring(begin, found - begin));
      begin = found + sep.size();
      if (max_splits > 0) --max_splits;
    }
    parts.emplace_back(text.substring(begin, text.text.size() - begin));
  }
  arguments.budget->charge_items(parts.size());
  return Value(std::move(parts));
}

// Prefix or suffix test; `affix` may be a string or a list of strings (Python accepts a tuple).
Value affix_method(const Value& self, CallArguments& arguments, const char* name, bool prefix) {
  ArgumentReader reader(arguments, name, {prefix ? "prefix" : "suffix"});
  const Value& affix = reader.required(0);
  const List candidates = affix.is_list() ? affix.as_list() : List{affix};
  for (const Value& candidate : candidates) {
    const std::string& text = string_argument(candidate, name);
    if (prefix ? self.text().starts_with(text) : self.text().ends_with(text)) return Value(true);
  }
  return Value(false);
}

std::string map_case(std::string_view text, bool upper) {
  std::string out;
  size_t position = 0;
  while (position < text.size()) {
    const auto code_point = static_cast<utf8proc_int32_t>(decode_utf8(text, position));
    append_utf8(out, char32_t(upper ? utf8proc_toupper(code_point) : utf8proc_tolower(code_point)));
  }
  return out;
}

// Upper-cases the first letter of each word (title) or of the text (capitalize); the rest is lower-cased.
std::string title_case(std::string_view text, bool every_word) {
  std::string out;
  size_t position = 0;
  bool at_word_start = true;
  while (position < text.size()) {
    const auto code_point = static_cast<utf8proc_int32_t>(decode_utf8(text, position));
    const bool is_letter = char_classes(char32_t(code_point)) & kLetter;
    append_utf8(out, char32_t(at_word_start && is_letter ? utf8proc_toupper(code_point)
                                                         : utf8proc_tolower(code_point)));
    if (every_word) {
      at_word_start = !is_letter;
    } else if (position > 0) {
      at_word_start = false;
    }
  }
  return out;
}

Value replace_text(const Value& self, const std::string& old_text, const std::string& new_text, int64_t count,
                   RenderBudget& budget) {
  const std::string& text = self.text();
  const size_t limit = count < 0 ? SIZE_MAX : size_t(count);
  // Where replacements go: each occurrence of old_text, or (Python) every character boundary when it is
  // empty.
  std::vector<size_t> positions;
  if (old_text.empty()) {
    for (std::string_view character : split_characters(text)) {
      if (positions.size() == limit) break;
      positions.push_back(size_t(character.data() - text.data()));
    }
    if (positions.size() < limit) positions.push_back(text.size());
  } else {
    for (size_t found = text.find(old_text); found != std::string::npos && positions.size() < limit;
         found = text.find(old_text, found + old_text.size())) {
      positions.push_back(found);
    }
  }
  // Charge the result before building it, so a huge replacement fails at once.
  const long double result_size =
      (long double)text.size() +
      (long double)positions.size() * ((long double)new_text.size() - old_text.size());
  budget.charge_bytes(result_size > (long double)SIZE_MAX / 2 ? SIZE_MAX : size_t(result_size));
  std::string out;
  out.reserve(size_t(result_size));
  size_t begin = 0;
  for (size_t position : positions) {
    out.append(text, begin, position - begin);
    out += new_text;
    begin = position + old_text.size();
  }
  out.append(text, begin);
  return Value(self.as_string().derived(std::move(out)));
}

using Method = Value (*)(const Value& self, CallArguments& arguments);

Value method_strip(const Value& self, CallArguments& arguments) {
  return strip_method(self, arguments, "strip", true, true);
}
Value method_lstrip(const Value& self, CallArguments& arguments) {
  return strip_method(self, arguments, "lstrip", true, false);
}
Value method_rstrip(const Value& self, CallArguments& arguments) {
  return strip_method(self, arguments, "rstrip", false, true);
}
Value method_startswith(const Value& self, CallArguments& arguments) {
  return affix_method(self, arguments, "startswith", true);
}
Value method_endswith(const Value& self, CallArguments& arguments) {
  return affix_method(self, arguments, "endswith", false);
}
Value method_upper(const Value& self, CallArguments& arguments) {
  ArgumentReader(arguments, "upper", {});
  return Value(self.as_string().derived(map_case(self.text(), true)));
}
Value method_lower(const Value& self, CallArguments& arguments) {
  ArgumentReader(arguments, "lower", {});
  return Value(self.as_string().derived(map_case(self.text(), false)));
}
Value method_title(const Value& self, CallArguments& arguments) {
  ArgumentReader(arguments, "title", {});
  return Value(self.as_string().derived(title_case(self.text(), true)));
}
Value method_capitalize(const Value& self, CallArguments& arguments) {
  ArgumentReader(arguments, "capitalize", {});
  return Value(self.as_string().derived(title_case(self.text(), false)));
}
Value method_replace(const Value& self, CallArguments& arguments) {
  ArgumentReader reader(arguments, "replace", {"old", "new", "count"});
  return replace_text(self, string_argument(reader.required(0), "replace"),
                      string_argument(reader.required(1), "replace"),
                      reader.get(2, Value(int64_t{-1})).as_integer(), *arguments.budget);
}
Value method_find(const Value& self, CallArguments& arguments) {
  ArgumentReader reader(arguments, "find", {"sub"});
  const size_t found = self.text().find(string_argument(reader.required(0), "find"));
  return Value(found == std::string::npos
                   ? int64_t{-1}
                   : int64_t(count_code_points(std::string_view(self.text()).substr(0, found))));
}
Value method_count(const Value& self, CallArguments& arguments) {
  ArgumentReader reader(arguments, "count", {"sub"});
  const std::string& needle = string_argument(reader.required(0), "count");
  if (needle.empty()) return Value(int64_t(count_code_points(self.text()) + 1));
  int64_t count = 0;
  for (size_t found = self.text().find(needle); found != std::string::npos;
       found = self.text().find(needle, found + needle.size())) {
    ++count;
  }
  return Value(count);
}
Value method_join(const Value& self, CallArguments& arguments) {
  ArgumentReader reader(arguments, "join", {"iterable"});
  TaggedString out;
  const List items = iterate(reader.required(0));
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_string()) fail_template("join(): item ", i, " is ", items[i].type_name(), ", not str");
    arguments.budget->charge_bytes(items[i].text().size() + self.text().size());
    if (i > 0) out.append(self.as_string());
    out.append(items[i].as_string());
  }
  return Value(std::move(out));
}

Value method_items(const Value& self, CallArguments& arguments) {
  ArgumentReader(arguments, "items", {});
  List items;
  for (const auto& [key, value] : self.as_dict().entries)
    items.emplace_back(List{key_value(self.as_dict(), key), value});
  arguments.budget->charge_items(items.size());
  return Value(std::move(items));
}
Value method_keys(const Value& self, CallArguments& arguments) {
  ArgumentReader(arguments, "keys", {});
  return Value(iterate(self));
}
Value method_values(const Value& self, CallArguments& arguments) {
  ArgumentReader(arguments, "values", {});
  List values;
  for (const auto& entry : self.as_dict().entries) values.push_back(entry.second);
  arguments.budget->charge_items(values.size());
  return Value(std::move(values));
}
Value method_get(const Value& self, CallArguments& arguments) {
  ArgumentReader reader(arguments, "get", {"key", "default"});
  const Value& key = reader.required(0);
  if (key.is_string()) {
    if (const Value* found = self.as_dict().find(key.text())) return *found;
  }
  return reader.get(1, Value::none());
}

struct NamedMethod {
  std::string_view name;
  Method method;
};
constexpr NamedMethod kStringMethods[] = {
    {"strip", method_strip},           {"lstrip", method_lstrip},
    {"rstrip", method_rstrip},         {"split", split_method},
    {"startswith", method_startswith}, {"endswith", method_endswith},
    {"upper", method_upper},           {"lower", method_lower},
    {"title", method_title},           {"capitalize", method_capitalize},
    {"replace", method_replace},       {"find", method_find},
    {"count", method_count},           {"join", method_join}};
constexpr NamedMethod kDictMethods[] = {
    {"items", method_items}, {"keys", method_keys}, {"values", method_values}, {"get", method_get}};

}  // namespace

Value find_method(const Value& object, const std::string& name) {
  std::span<const NamedMethod> methods;
  if (object.is_string()) methods = kStringMethods;
  if (object.is_dict()) methods = kDictMethods;
  for (const NamedMethod& entry : methods) {
    if (entry.name != name) continue;
    const Method method = entry.method;
    return Value(std::make_shared<const Callable>(
        Callable{name, [object, method](CallArguments& arguments) { return method(object, arguments); }}));
  }
  return Value::undefined("no method " + name);
}

}  // namespace dsinfer::text::jinja
