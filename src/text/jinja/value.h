// Values of the Jinja interpreter: Python's data model, reduced to what chat templates use (None, bool, int,
// float, str, list, dict, namespace, callables, and Jinja's Undefined).
//
// Strings remember which of their bytes came from the request (user-supplied message content, tool arguments,
// ...) so that the rendered prompt can be encoded with control tokens matched only in template text.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace dsinfer::text::jinja {

// Text plus the byte ranges [begin, end) of it that are user-supplied (sorted, disjoint, never adjacent).
struct TaggedString {
  std::string text;
  std::vector<std::pair<size_t, size_t>> user_ranges;

  static TaggedString from_template(std::string text) { return {std::move(text), {}}; }
  static TaggedString from_user(std::string text);

  bool has_user_text() const { return !user_ranges.empty(); }
  void append(const TaggedString& other);
  // Bytes [begin, begin + length) with the ranges clipped to them.
  TaggedString substring(size_t begin, size_t length) const;
  // A string computed from this one (upper(), replace(), ...): all user-supplied if any of this one was.
  TaggedString derived(std::string new_text) const;
};

class Value;
using List = std::vector<Value>;

// A Python dict with string keys, in insertion order (lookups are linear: template dicts are small).
struct Dict {
  std::vector<std::pair<std::string, Value>> entries;
  bool keys_from_user = false;  // the keys came from the request (e.g. tool parameter names)
  const Value* find(std::string_view key) const;
  void set(std::string key, Value value);
};

// namespace(...): the one mutable object, so that `set ns.x = ...` inside a loop is seen after it.
struct Namespace {
  Dict attributes;
};

struct CallArguments;
struct Callable {
  std::string name;
  std::function<Value(CallArguments&)> call;
};

// Jinja's Undefined: what a missing variable, key or attribute evaluates to. `description` says what was
// looked up ("'foo' is undefined", "'dict object' has no attribute 'x'") for the error raised if it is used.
struct Undefined {
  std::string description;
};

class Value {
 public:
  Value() : data_(Undefined{"value is undefined"}) {}
  static Value undefined(std::string description) { return Value(Data(Undefined{std::move(description)})); }
  static Value none() { return Value(Data(nullptr)); }
  Value(const char*) = delete;  // would silently become a bool
  Value(bool value) : data_(value) {}
  Value(int64_t value) : data_(value) {}
  Value(int value) : data_(int64_t{value}) {}
  Value(double value) : data_(value) {}
  Value(TaggedString value) : data_(std::make_shared<const TaggedString>(std::move(value))) {}
  Value(List value) : data_(std::make_shared<const List>(std::move(value))) {}
  Value(Dict value) : data_(std::make_shared<const Dict>(std::move(value))) {}
  Value(std::shared_ptr<Namespace> value) : data_(std::move(value)) {}
  Value(std::shared_ptr<const Callable> value) : data_(std::move(value)) {}
  static Value from_template_text(std::string text) {
    return Value(TaggedString::from_template(std::move(text)));
  }

  bool is_undefined() const { return std::holds_alternative<Undefined>(data_); }
  bool is_none() const { return std::holds_alternative<std::nullptr_t>(data_); }
  bool is_boolean() const { return std::holds_alternative<bool>(data_); }
  bool is_integer() const { return std::holds_alternative<int64_t>(data_); }
  bool is_float() const { return std::holds_alternative<double>(data_); }
  bool is_number() const { return is_integer() || is_float() || is_boolean(); }
  bool is_string() const { return std::holds_alternative<std::shared_ptr<const TaggedString>>(data_); }
  bool is_list() const { return std::holds_alternative<std::shared_ptr<const List>>(data_); }
  bool is_dict() const { return std::holds_alternative<std::shared_ptr<const Dict>>(data_); }
  bool is_namespace() const { return std::holds_alternative<std::shared_ptr<Namespace>>(data_); }
  bool is_callable() const { return std::holds_alternative<std::shared_ptr<const Callable>>(data_); }

  bool as_boolean() const { return std::get<bool>(data_); }
  int64_t as_integer() const { return is_boolean() ? int64_t(as_boolean()) : std::get<int64_t>(data_); }
  double as_float() const { return is_float() ? std::get<double>(data_) : double(as_integer()); }
  const TaggedString& as_string() const { return *std::get<std::shared_ptr<const TaggedString>>(data_); }
  const std::string& text() const { return as_string().text; }
  const List& as_list() const { return *std::get<std::shared_ptr<const List>>(data_); }
  const Dict& as_dict() const { return *std::get<std::shared_ptr<const Dict>>(data_); }
  Namespace& as_namespace() const { return *std::get<std::shared_ptr<Namespace>>(data_); }
  const Callable& as_callable() const { return *std::get<std::shared_ptr<const Callable>>(data_); }
  const std::string& undefined_description() const { return std::get<Undefined>(data_).description; }

  // Python's type name, for error messages ("str", "int", "NoneType", ...).
  const char* type_name() const;
  // Python truth value (Undefined is false).
  bool truthy() const;

 private:
  using Data =
      std::variant<Undefined, std::nullptr_t, bool, int64_t, double, std::shared_ptr<const TaggedString>,
                   std::shared_ptr<const List>, std::shared_ptr<const Dict>, std::shared_ptr<Namespace>,
                   std::shared_ptr<const Callable>>;
  explicit Value(Data data) : data_(std::move(data)) {}
  Data data_;
};

// Python ==, with Jinja's rule that two Undefined are equal.
bool values_equal(const Value& left, const Value& right);

// Whether any string inside value (or a dict key) is user-supplied.
bool has_user_text(const Value& value);

// str(value) as Jinja prints it ({{ value }}): None -> "None", True -> "True", 1.0 -> "1.0", lists and dicts
// in Python repr form; Undefined prints as "". User-supplied parts of strings stay tagged.
TaggedString to_output_string(const Value& value);
// repr(value) (strings quoted), as Python prints list items.
std::string python_repr(const Value& value);
// Python's repr of a float: shortest round-trip digits, "1.0", "1e+16", "1e-05", "inf", "nan".
std::string python_float_repr(double value);

// json.dumps(value, ensure_ascii=False, indent=indent) as Hugging Face's `tojson` filter does it
// (separators ", " and ": ", or "," and ": " with an indent; indent < 0 means none).
std::string to_json_text(const Value& value, int indent);

// A JSON document as template values; every string in it is tagged user-supplied when `from_user`.
// Throws dsinfer::Error past `max_depth` levels of nesting. With nlohmann::ordered_json, dicts keep the
// document's key order (as Python does); nlohmann::json has already sorted them.
template <typename Json>
Value from_json(const Json& json, bool from_user, size_t max_depth);

}  // namespace dsinfer::text::jinja
