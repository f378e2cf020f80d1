// What templates can call: filters, tests, global functions, methods of str and dict, and the operators, with
// Python's semantics for the types chat templates use. Everything here is side-effect free except namespace
// attributes, as in Jinja's ImmutableSandboxedEnvironment that Hugging Face renders chat templates with.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "text/jinja/value.h"

namespace dsinfer::text::jinja {

// Bounds on one render, so that a hostile template ends with an error instead of running forever or
// exhausting memory. Every loop iteration, every byte of every string built and every list or dict entry
// built is charged.
struct RenderLimits {
  size_t max_output_bytes = size_t{16} << 20;
  size_t max_loop_iterations = 1'000'000;
  size_t max_bytes_built = size_t{256} << 20;
  size_t max_items_built = 10'000'000;
  size_t max_nesting_depth = 200;  // of template syntax (checked when parsing) and of the JSON input
};

class RenderBudget {
 public:
  explicit RenderBudget(const RenderLimits& limits) : limits_(limits) {}
  const RenderLimits& limits() const { return limits_; }
  void charge_iterations(size_t count);
  void charge_bytes(size_t count);
  void charge_items(size_t count);

 private:
  RenderLimits limits_;
  size_t iterations_ = 0, bytes_ = 0, items_ = 0;
};

// An error in a builtin or operator; the interpreter prefixes it with the template name and location.
class TemplateError : public Error {
 public:
  using Error::Error;
};
template <typename... Parts>
[[noreturn]] void fail_template(const Parts&... parts) {
  throw TemplateError(detail::concat(parts...));
}

struct CallArguments {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keywords;
  RenderBudget* budget = nullptr;
};

// Binds call arguments to named parameters the way Python does (positional first, then by keyword) and
// rejects unknown or repeated ones.
class ArgumentReader {
 public:
  ArgumentReader(CallArguments& arguments, std::string_view function,
                 std::vector<std::string_view> parameters);
  // The argument for parameter `index`, or nullptr when not given.
  const Value* find(size_t index) const { return bound_[index]; }
  Value get(size_t index, Value fallback) const {
    return bound_[index] ? *bound_[index] : std::move(fallback);
  }
  const Value& required(size_t index) const;

 private:
  std::string_view function_;
  std::vector<std::string_view> parameters_;
  std::vector<const Value*> bound_;
};

using FilterFunction = Value (*)(const Value& input, CallArguments& arguments);
using TestFunction = bool (*)(const Value& input, CallArguments& arguments);

// nullptr when there is no such filter / test (the parser reports it with its location).
FilterFunction find_filter(std::string_view name);
TestFunction find_test(std::string_view name);
// range, namespace, dict, raise_exception; nullptr when there is no such global.
const Value* find_global_function(std::string_view name);

// A method of str or dict bound to object (e.g. "split", "items"); Undefined when there is none.
Value find_method(const Value& object, const std::string& name);
// A dict key as a value: tagged user-supplied when the dict came from the request.
Value key_value(const Dict& dict, const std::string& key);

// object.name: a method of str or dict, a dict entry, or a namespace attribute; Undefined when missing.
Value get_attribute(const Value& object, const std::string& name);
// object[key]: list index (negative from the end), dict key, str character; Undefined when missing.
Value get_item(const Value& object, const Value& key);
// object[start:stop:step] of a list or str (each bound may be None).
Value get_slice(const Value& object, const Value& start, const Value& stop, const Value& step,
                RenderBudget& budget);

// Arithmetic and concatenation: + - * / // % ** and ~.
Value apply_binary_operator(std::string_view op, const Value& left, const Value& right, RenderBudget& budget);
Value negate(const Value& operand);
// == != < <= > >= in "not in".
bool compare(std::string_view op, const Value& left, const Value& right);
// Python's `item in container`.
bool contains(const Value& container, const Value& item);
// Python's len() (Undefined has length 0, as in Jinja).
size_t value_length(const Value& value);
// The items a for loop (or a filter) iterates: list items, dict keys, str characters; Undefined is empty.
List iterate(const Value& value);

// Characters of valid UTF-8 text (Python indexes strings by code point).
std::vector<std::string_view> split_characters(std::string_view text);

}  // namespace dsinfer::text::jinja
