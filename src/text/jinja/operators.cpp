// Operators, item and attribute access, iteration, and the render budget.
#include <cmath>
#include <limits>

#include "text/jinja/builtins.h"
#include "text/utf8.h"

namespace dsinfer::text::jinja {
namespace {

[[noreturn]] void fail_undefined(const Value& value) {
  fail_template(value.undefined_description());
}

void require_defined(const Value& value) {
  if (value.is_undefined()) fail_undefined(value);
}

[[noreturn]] void fail_operands(std::string_view op, const Value& left, const Value& right) {
  fail_template("unsupported operand types for ", op, ": '", left.type_name(), "' and '", right.type_name(),
                "'");
}

int64_t checked(std::string_view op, long double exact) {
  if (exact > static_cast<long double>(std::numeric_limits<int64_t>::max()) ||
      exact < static_cast<long double>(std::numeric_limits<int64_t>::min())) {
    fail_template("integer overflow in ", op);
  }
  return static_cast<int64_t>(exact);
}

int64_t floor_divide(int64_t left, int64_t right) {
  if (right == 0) fail_template("integer division or modulo by zero");
  int64_t quotient = left / right;
  if ((left % right != 0) && ((left < 0) != (right < 0))) --quotient;
  return quotient;
}

Value repeat(const Value& sequence, int64_t times, RenderBudget& budget) {
  const size_t count = times > 0 ? size_t(times) : 0;
  if (sequence.is_string()) {
    const TaggedString& piece = sequence.as_string();
    if (count > 0 && piece.text.size() > budget.limits().max_bytes_built / count)
      budget.charge_bytes(SIZE_MAX);
    budget.charge_bytes(piece.text.size() * count);
    TaggedString result;
    for (size_t i = 0; i < count; ++i) result.append(piece);
    return Value(std::move(result));
  }
  const List& items = sequence.as_list();
  if (count > 0 && items.size() > budget.limits().max_items_built / count) budget.charge_items(SIZE_MAX);
  budget.charge_items(items.size() * count);
  List result;
  for (size_t i = 0; i < count; ++i) result.insert(result.end(), items.begin(), items.end());
  return Value(std::move(result));
}

int compare_order(std::string_view op, const Value& left, const Value& right) {
  if (left.is_number() && right.is_number()) {
    if (left.is_float() || right.is_float()) {
      return left.as_float() < right.as_float() ? -1 : left.as_float() > right.as_float() ? 1 : 0;
    }
    return left.as_integer() < right.as_integer() ? -1 : left.as_integer() > right.as_integer() ? 1 : 0;
  }
  if (left.is_string() && right.is_string()) {
    const int order = left.text().compare(right.text());  // UTF-8 byte order is code point order
    return order < 0 ? -1 : order > 0 ? 1 : 0;
  }
  if (left.is_list() && right.is_list()) {
    const List &a = left.as_list(), &b = right.as_list();
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      if (!values_equal(a[i], b[i])) return compare_order(op, a[i], b[i]);
    }
    return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
  }
  fail_template("'", op, "' not supported between '", left.type_name(), "' and '", right.type_name(), "'");
}

// Python's slice.indices(length): the positions a slice visits.
std::vector<size_t> slice_positions(size_t length, const Value& start, const Value& stop, const Value& step) {
  auto integer_or_none = [](const Value& value, const char* what) -> std::optional<int64_t> {
    if (value.is_none() || value.is_undefined()) return std::nullopt;
    if (!value.is_integer() && !value.is_boolean())
      fail_template("slice ", what, " must be an integer or None");
    return value.as_integer();
  };
  const int64_t size = static_cast<int64_t>(length);
  const int64_t stride = integer_or_none(step, "step").value_or(1);
  if (stride == 0) fail_template("slice step cannot be zero");
  const int64_t lower = stride > 0 ? 0 : -1, upper = stride > 0 ? size : size - 1;
  auto clamp = [&](std::optional<int64_t> bound, int64_t fallback) {
    if (!bound) return fallback;
    int64_t index = *bound < 0 ? *bound + size : *bound;
    return std::clamp(index, lower, upper);
  };
  const int64_t first = clamp(integer_or_none(start, "start"), stride > 0 ? lower : upper);
  const int64_t last = clamp(integer_or_none(stop, "stop"), stride > 0 ? upper : lower);
  std::vector<size_t> positions;
  for (int64_t i = first; stride > 0 ? i < last : i > last; i += stride) positions.push_back(size_t(i));
  return positions;
}

}  // namespace

void RenderBudget::charge_iterations(size_t count) {
  iterations_ += std::min(count, SIZE_MAX - iterations_);
  if (iterations_ > limits_.max_loop_iterations) {
    fail_template("the template ran more than ", limits_.max_loop_iterations, " loop iterations");
  }
}

void RenderBudget::charge_bytes(size_t count) {
  bytes_ += std::min(count, SIZE_MAX - bytes_);
  if (bytes_ > limits_.max_bytes_built) {
    fail_template("the template built more than ", limits_.max_bytes_built, " bytes of strings");
  }
}

void RenderBudget::charge_items(size_t count) {
  items_ += std::min(count, SIZE_MAX - items_);
  if (items_ > limits_.max_items_built) {
    fail_template("the template built more than ", limits_.max_items_built, " list or dict items");
  }
}

ArgumentReader::ArgumentReader(CallArguments& arguments, std::string_view function,
                               std::vector<std::string_view> parameters)
    : function_(function), parameters_(std::move(parameters)), bound_(parameters_.size(), nullptr) {
  if (arguments.positional.size() > parameters_.size()) {
    fail_template(function_, "() takes at most ", parameters_.size(), " arguments (",
                  arguments.positional.size(), " given)");
  }
  for (size_t i = 0; i < arguments.positional.size(); ++i) bound_[i] = &arguments.positional[i];
  for (const auto& [name, value] : arguments.keywords) {
    auto found = std::find(parameters_.begin(), parameters_.end(), name);
    if (found == parameters_.end())
      fail_template(function_, "() got an unexpected keyword argument '", name, "'");
    const size_t index = size_t(found - parameters_.begin());
    if (bound_[index] != nullptr)
      fail_template(function_, "() got multiple values for argument '", name, "'");
    bound_[index] = &value;
  }
}

const Value& ArgumentReader::required(size_t index) const {
  if (bound_[index] == nullptr)
    fail_template(function_, "() missing required argument '", parameters_[index], "'");
  return *bound_[index];
}

std::vector<std::string_view> split_characters(std::string_view text) {
  std::vector<std::string_view> characters;
  size_t position = 0;
  while (position < text.size()) {
    const size_t start = position;
    decode_utf8(text, position);
    characters.push_back(text.substr(start, position - start));
  }
  return characters;
}

Value key_value(const Dict& dict, const std::string& key) {
  return Value(dict.keys_from_user ? TaggedString::from_user(key) : TaggedString::from_template(key));
}

Value get_attribute(const Value& object, const std::string& name) {
  require_defined(object);
  Value method = find_method(object, name);
  if (!method.is_undefined()) return method;
  if (object.is_dict()) {
    if (const Value* found = object.as_dict().find(name)) return *found;
    return Value::undefined("'dict object' has no attribute '" + name + "'");
  }
  if (object.is_namespace()) {
    if (const Value* found = object.as_namespace().attributes.find(name)) return *found;
    return Value::undefined("'Namespace' has no attribute '" + name + "'");
  }
  return Value::undefined(detail::concat("'", object.type_name(), " object' has no attribute '", name, "'"));
}

Value get_item(const Value& object, const Value& key) {
  require_defined(object);
  if ((object.is_list() || object.is_string()) && (key.is_integer() || key.is_boolean())) {
    const int64_t size =
        object.is_list() ? int64_t(object.as_list().size()) : int64_t(count_code_points(object.text()));
    int64_t index = key.as_integer();
    if (index < 0) index += size;
    if (index < 0 || index >= size)
      return Value::undefined("index " + std::to_string(key.as_integer()) + " is out of range");
    if (object.is_list()) return object.as_list()[size_t(index)];
    const auto characters = split_characters(object.text());
    const size_t begin = size_t(characters[size_t(index)].data() - object.text().data());
    return Value(object.as_string().substring(begin, characters[size_t(index)].size()));
  }
  if (key.is_string() && (object.is_dict() || object.is_namespace())) {
    const Dict& dict = object.is_dict() ? object.as_dict() : object.as_namespace().attributes;
    if (const Value* found = dict.find(key.text())) return *found;
    return Value::undefined("'dict object' has no attribute '" + key.text() + "'");
  }
  if (key.is_string()) return get_attribute(object, key.text());
  return Value::undefined(detail::concat("'", object.type_name(), " object' has no item ", python_repr(key)));
}

Value get_slice(const Value& object, const Value& start, const Value& stop, const Value& step,
                RenderBudget& budget) {
  require_defined(object);
  if (object.is_list()) {
    const List& items = object.as_list();
    List result;
    for (size_t position : slice_positions(items.size(), start, stop, step))
      result.push_back(items[position]);
    budget.charge_items(result.size());
    return Value(std::move(result));
  }
  if (object.is_string()) {
    const auto characters = split_characters(object.text());
    TaggedString result;
    for (size_t position : slice_positions(characters.size(), start, stop, step)) {
      const size_t begin = size_t(characters[position].data() - object.text().data());
      result.append(object.as_string().substring(begin, characters[position].size()));
    }
    budget.charge_bytes(result.text.size());
    return Value(std::move(result));
  }
  fail_template("'", object.type_name(), "' object cannot be sliced");
}

Value apply_binary_operator(std::string_view op, const Value& left, const Value& right,
                            RenderBudget& budget) {
  if (op == "~") {
    TaggedString result = to_output_string(left);
    result.append(to_output_string(right));
    budget.charge_bytes(result.text.size());
    return Value(std::move(result));
  }
  require_defined(left);
  require_defined(right);
  const bool numbers = left.is_number() && right.is_number();
  const bool integers = numbers && !left.is_float() && !right.is_float();
  if (op == "+") {
    if (integers) return Value(checked(op, (long double)left.as_integer() + right.as_integer()));
    if (numbers) return Value(left.as_float() + right.as_float());
    if (left.is_string() && right.is_string()) {
      budget.charge_bytes(left.text().size() + right.text().size());
      TaggedString result = left.as_string();
      result.append(right.as_string());
      return Value(std::move(result));
    }
    if (left.is_list() && right.is_list()) {
      budget.charge_items(left.as_list().size() + right.as_list().size());
      List result = left.as_list();
      result.insert(result.end(), right.as_list().begin(), right.as_list().end());
      return Value(std::move(result));
    }
    fail_operands(op, left, right);
  }
  if (op == "-") {
    if (integers) return Value(checked(op, (long double)left.as_integer() - right.as_integer()));
    if (numbers) return Value(left.as_float() - right.as_float());
    fail_operands(op, left, right);
  }
  if (op == "*") {
    if (integers) return Value(checked(op, (long double)left.as_integer() * right.as_integer()));
    if (numbers) return Value(left.as_float() * right.as_float());
    if ((left.is_string() || left.is_list()) && (right.is_integer() || right.is_boolean())) {
      return repeat(left, right.as_integer(), budget);
    }
    if ((right.is_string() || right.is_list()) && (left.is_integer() || left.is_boolean())) {
      return repeat(right, left.as_integer(), budget);
    }
    fail_operands(op, left, right);
  }
  if (!numbers) fail_operands(op, left, right);
  if (op == "/") {
    if (right.as_float() == 0.0) fail_template("division by zero");
    return Value(left.as_float() / right.as_float());
  }
  if (op == "//") {
    if (integers) return Value(floor_divide(left.as_integer(), right.as_integer()));
    if (right.as_float() == 0.0) fail_template("float floor division by zero");
    return Value(std::floor(left.as_float() / right.as_float()));
  }
  if (op == "%") {
    if (integers) {
      const int64_t quotient = floor_divide(left.as_integer(), right.as_integer());
      return Value(left.as_integer() - quotient * right.as_integer());
    }
    if (right.as_float() == 0.0) fail_template("float modulo by zero");
    const double remainder = std::fmod(left.as_float(), right.as_float());
    return Value(remainder != 0.0 && ((remainder < 0) != (right.as_float() < 0))
                     ? remainder + right.as_float()
                     : remainder);
  }
  if (op == "**") {
    if (integers && right.as_integer() >= 0) {
      const int64_t base = left.as_integer(), exponent = right.as_integer();
      if (base == 0 || base == 1) return Value(exponent == 0 ? int64_t{1} : base);
      if (base == -1) return Value(exponent % 2 == 0 ? int64_t{1} : int64_t{-1});
      int64_t result = 1;  // |base| >= 2 overflows within 63 steps
      for (int64_t i = 0; i < exponent; ++i) result = checked(op, (long double)result * base);
      return Value(result);
    }
    return Value(std::pow(left.as_float(), right.as_float()));
  }
  fail_template("unknown operator ", op);
}

Value negate(const Value& operand) {
  require_defined(operand);
  if (operand.is_float()) return Value(-operand.as_float());
  if (operand.is_number()) return Value(checked("-", -(long double)operand.as_integer()));
  fail_template("bad operand type for unary -: '", operand.type_name(), "'");
}

bool compare(std::string_view op, const Value& left, const Value& right) {
  if (op == "==") return values_equal(left, right);
  if (op == "!=") return !values_equal(left, right);
  if (op == "in") return contains(right, left);
  if (op == "not in") return !contains(right, left);
  require_defined(left);
  require_defined(right);
  const int order = compare_order(op, left, right);
  if (op == "<") return order < 0;
  if (op == "<=") return order <= 0;
  if (op == ">") return order > 0;
  return order >= 0;
}

bool contains(const Value& container, const Value& item) {
  if (container.is_undefined()) return false;  // Jinja's Undefined iterates as empty
  if (container.is_string()) {
    if (!item.is_string())
      fail_template("'in <string>' requires a string on the left, not '", item.type_name(), "'");
    return container.text().find(item.text()) != std::string::npos;
  }
  if (container.is_list()) {
    for (const Value& element : container.as_list()) {
      if (values_equal(element, item)) return true;
    }
    return false;
  }
  if (container.is_dict()) return item.is_string() && container.as_dict().find(item.text()) != nullptr;
  fail_template("argument of type '", container.type_name(), "' is not iterable");
}

size_t value_length(const Value& value) {
  if (value.is_undefined()) return 0;
  if (value.is_string()) return count_code_points(value.text());
  if (value.is_list()) return value.as_list().size();
  if (value.is_dict()) return value.as_dict().entries.size();
  fail_template("object of type '", value.type_name(), "' has no len()");
}

List iterate(const Value& value) {
  if (value.is_undefined()) return {};
  if (value.is_list()) return value.as_list();
  if (value.is_dict()) {
    List keys;
    for (const auto& entry : value.as_dict().entries) keys.push_back(key_value(value.as_dict(), entry.first));
    return keys;
  }
  if (value.is_string()) {
    List characters;
    for (std::string_view character : split_characters(value.text())) {
      const size_t begin = size_t(character.data() - value.text().data());
      characters.emplace_back(value.as_string().substring(begin, character.size()));
    }
    return characters;
  }
  fail_template("'", value.type_name(), "' object is not iterable");
}

}  // namespace dsinfer::text::jinja
