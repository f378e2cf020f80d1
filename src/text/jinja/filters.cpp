// Filters ({{ value | name(arguments) }}), tests ({% if value is name %}) and global functions.
#include <algorithm>
#include <cmath>
#include <memory>

#include "text/jinja/builtins.h"
#include "text/utf8.h"

namespace dsinfer::text::jinja {
namespace {

// Calls a str method as a filter (trim, upper, ...): the filter's input is the method's receiver.
Value call_string_method(const Value& input, const char* method, CallArguments& arguments) {
  if (!input.is_string()) fail_template("filter ", method, " needs a string, not ", input.type_name());
  return find_method(input, method).as_callable().call(arguments);
}

Value filter_length(const Value& input, CallArguments& arguments) {
  ArgumentReader(arguments, "length", {});
  return Value(int64_t(value_length(input)));
}

Value filter_string(const Value& input, CallArguments& arguments) {
  ArgumentReader(arguments, "string", {});
  return Value(to_output_string(input));
}

Value filter_trim(const Value& input, CallArguments& arguments) {
  return call_string_method(input, "strip", arguments);
}
Value filter_upper(const Value& input, CallArguments& arguments) {
  return call_string_method(input, "upper", arguments);
}
Value filter_lower(const Value& input, CallArguments& arguments) {
  return call_string_method(input, "lower", arguments);
}
Value filter_title(const Value& input, CallArguments& arguments) {
  return call_string_method(input, "title", arguments);
}
Value filter_capitalize(const Value& input, CallArguments& arguments) {
  return call_string_method(input, "capitalize", arguments);
}
Value filter_replace(const Value& input, CallArguments& arguments) {
  return call_string_method(input, "replace", arguments);
}

Value filter_default(const Value& input, CallArguments& arguments) {
  ArgumentReader reader(arguments, "default", {"default_value", "boolean"});
  const bool use_falsy = reader.get(1, Value(false)).truthy();
  if (input.is_undefined() || (use_falsy && !input.truthy()))
    return reader.get(0, Value::from_template_text(""));
  return input;
}

Value filter_join(const Value& input, CallArguments& arguments) {
  ArgumentReader reader(arguments, "join", {"d", "attribute"});
  const Value separator = reader.get(0, Value::from_template_text(""));
  const Value* attribute = reader.find(1);
  TaggedString out;
  const TaggedString separator_text = to_output_string(separator);
  const List items = iterate(input);
  for (size_t i = 0; i < items.size(); ++i) {
    const Value item = attribute ? get_attribute(items[i], to_output_string(*attribute).text) : items[i];
    const TaggedString text = to_output_string(item);
    arguments.budget->charge_bytes(text.text.size() + separator_text.text.size());
    if (i > 0) out.append(separator_text);
    out.append(text);
  }
  return Value(std::move(out));
}

Value filter_tojson(const Value& input, CallArguments& arguments) {
  ArgumentReader reader(arguments, "tojson", {"indent"});
  const Value indent = reader.get(0, Value::none());
  if (!indent.is_none() && !indent.is_integer()) fail_template("tojson(): indent must be an integer or None");
  std::string json =
      to_json_text(input, indent.is_none() ? -1 : int(std::max<int64_t>(0, indent.as_integer())));
  arguments.budget->charge_bytes(json.size());
  // The JSON holds user text if any string in the input did.
  return Value(has_user_text(input) ? TaggedString::from_user(std::move(json))
                                    : TaggedString::from_template(std::move(json)));
}

Value filter_first(const Value& input, CallArguments& arguments) {
  ArgumentReader(arguments, "first", {});
  const List items = iterate(input);
  return items.empty() ? Value::undefined("first(): the sequence is empty") : items.front();
}

Value filter_last(const Value& input, CallArguments& arguments) {
  ArgumentReader(arguments, "last", {});
  const List items = iterate(input);
  return items.empty() ? Value::undefined("last(): the sequence is empty") : items.back();
}

Value filter_list(const Value& input, CallArguments& arguments) {
  ArgumentReader(arguments, "list", {});
  List items = iterate(input);
  arguments.budget->charge_items(items.size());
  return Value(std::move(items));
}

Value filter_items(const Value& input, CallArguments& arguments) {
  if (input.is_undefined()) return Value(List{});
  if (!input.is_dict()) fail_template("items(): needs a dict, not ", input.type_name());
  return find_method(input, "items").as_callable().call(arguments);
}

Value filter_reverse(const Value& input, CallArguments& arguments) {
  ArgumentReader(arguments, "reverse", {});
  if (input.is_string()) {
    auto characters = split_characters(input.text());
    std::string reversed;
    for (auto it = characters.rbegin(); it != characters.rend(); ++it) reversed += *it;
    return Value(input.as_string().derived(std::move(reversed)));
  }
  List items = iterate(input);
  std::reverse(items.begin(), items.end());
  arguments.budget->charge_items(items.size());
  return Value(std::move(items));
}

Value filter_int(const Value& input, CallArguments& arguments) {
  ArgumentReader reader(arguments, "int", {"default"});
  const Value fallback = reader.get(0, Value(int64_t{0}));
  if (input.is_boolean() || input.is_integer()) return Value(input.as_integer());
  if (input.is_float()) return std::isfinite(input.as_float()) ? Value(int64_t(input.as_float())) : fallback;
  if (input.is_string()) {
    try {
      size_t used = 0;
      const std::string text = input.text();
      const int64_t parsed = std::stoll(text, &used);
      if (used == text.size()) return Value(parsed);
      const double number = std::stod(text, &used);  // Jinja falls back to float("1.5") -> 1
      if (used == text.size() && std::isfinite(number)) return Value(int64_t(number));
    } catch (const std::exception&) {
    }
  }
  return fallback;
}

Value filter_float(const Value& input, CallArguments& arguments) {
  ArgumentReader reader(arguments, "float", {"default"});
  const Value fallback = reader.get(0, Value(0.0));
  if (input.is_number()) return Value(input.as_float());
  if (input.is_string()) {
    try {
      size_t used = 0;
      const double number = std::stod(input.text(), &used);
      if (used == input.text().size()) return Value(number);
    } catch (const std::exception&) {
    }
  }
  return fallback;
}

Value filter_abs(const Value& input, CallArguments& arguments) {
  ArgumentReader(arguments, "abs", {});
  if (input.is_float()) return Value(std::fabs(input.as_float()));
  if (input.is_number())
    return input.as_integer() < 0 ? negate(Value(input.as_integer())) : Value(input.as_integer());
  fail_template("abs(): needs a number, not ", input.type_name());
}

Value filter_safe(const Value& input, CallArguments& arguments) {
  ArgumentReader(arguments, "safe", {});
  return input;
}

Value filter_indent(const Value& input, CallArguments& arguments) {
  ArgumentReader reader(arguments, "indent", {"width", "first", "blank"});
  const Value width = reader.get(0, Value(int64_t{4}));
  const std::string padding =
      width.is_string() ? width.text()
                        : std::string(size_t(std::clamp<int64_t>(width.as_integer(), 0, 1024)), ' ');
  const bool indent_first = reader.get(1, Value(false)).truthy(),
             indent_blank = reader.get(2, Value(false)).truthy();
  const TaggedString text = to_output_string(input);
  std::string out;
  size_t begin = 0;
  bool first_line = true;
  while (begin <= text.text.size()) {
    size_t end = text.text.find('\n', begin);
    const bool last = end == std::string::npos;
    if (last) end = text.text.size();
    const std::string_view line(text.text.data() + begin, end - begin);
    if ((!first_line || indent_first) && (indent_blank || !line.empty())) out += padding;
    out += line;
    if (last) break;
    out += '\n';
    begin = end + 1;
    first_line = false;
  }
  arguments.budget->charge_bytes(out.size());
  return Value(text.derived(std::move(out)));
}

// The rest of a filter's positional arguments after the first `skip`, as arguments to a test or filter.
CallArguments forward_arguments(const CallArguments& arguments, size_t skip) {
  CallArguments forwarded;
  forwarded.budget = arguments.budget;
  for (size_t i = skip; i < arguments.positional.size(); ++i)
    forwarded.positional.push_back(arguments.positional[i]);
  return forwarded;
}

TestFunction require_test(const Value& name) {
  if (!name.is_string()) fail_template("expected the name of a test");
  TestFunction test = find_test(name.text());
  if (test == nullptr) fail_template("no test named '", name.text(), "'");
  return test;
}

// select / reject / selectattr / rejectattr.
Value filter_by_test(const Value& input, CallArguments& arguments, bool by_attribute, bool keep_when) {
  if (!arguments.keywords.empty()) fail_template("select filters take no keyword arguments");
  const size_t skip = by_attribute ? 2 : 1;
  std::string attribute;
  if (by_attribute) {
    if (arguments.positional.empty() || !arguments.positional[0].is_string()) {
      fail_template("selectattr / rejectattr need an attribute name");
    }
    attribute = arguments.positional[0].text();
  }
  const size_t test_position = by_attribute ? 1 : 0;
  const bool has_test = arguments.positional.size() > test_position;
  List kept;
  for (const Value& item : iterate(input)) {
    const Value subject = by_attribute ? get_attribute(item, attribute) : item;
    bool passes;
    if (has_test) {
      CallArguments test_arguments = forward_arguments(arguments, skip);
      passes = require_test(arguments.positional[test_position])(subject, test_arguments);
    } else {
      passes = subject.truthy();
    }
    if (passes == keep_when) kept.push_back(item);
  }
  arguments.budget->charge_items(kept.size());
  return Value(std::move(kept));
}
Value filter_select(const Value& input, CallArguments& arguments) {
  return filter_by_test(input, arguments, false, true);
}
Value filter_reject(const Value& input, CallArguments& arguments) {
  return filter_by_test(input, arguments, false, false);
}
Value filter_selectattr(const Value& input, CallArguments& arguments) {
  return filter_by_test(input, arguments, true, true);
}
Value filter_rejectattr(const Value& input, CallArguments& arguments) {
  return filter_by_test(input, arguments, true, false);
}

Value filter_map(const Value& input, CallArguments& arguments) {
  List mapped;
  const Value* attribute = nullptr;
  const Value* fallback = nullptr;
  for (const auto& [name, value] : arguments.keywords) {
    if (name == "attribute") {
      attribute = &value;
    } else if (name == "default") {
      fallback = &value;
    } else {
      fail_template("map() got an unexpected keyword argument '", name, "'");
    }
  }
  if (attribute != nullptr) {
    for (const Value& item : iterate(input)) {
      Value result = get_attribute(item, to_output_string(*attribute).text);
      mapped.push_back(result.is_undefined() && fallback ? *fallback : result);
    }
  } else {
    if (arguments.positional.empty() || !arguments.positional[0].is_string()) {
      fail_template("map() needs a filter name or attribute=");
    }
    FilterFunction filter = find_filter(arguments.positional[0].text());
    if (filter == nullptr) fail_template("no filter named '", arguments.positional[0].text(), "'");
    for (const Value& item : iterate(input)) {
      CallArguments filter_arguments = forward_arguments(arguments, 1);
      mapped.push_back(filter(item, filter_arguments));
    }
  }
  arguments.budget->charge_items(mapped.size());
  return Value(std::move(mapped));
}

Value filter_unique(const Value& input, CallArguments& arguments) {
  ArgumentReader(arguments, "unique", {});
  List unique;
  for (const Value& item : iterate(input)) {
    if (std::none_of(unique.begin(), unique.end(),
                     [&](const Value& kept) { return values_equal(kept, item); })) {
      unique.push_back(item);
    }
  }
  arguments.budget->charge_items(unique.size());
  return Value(std::move(unique));
}

struct NamedFilter {
  std::string_view name;
  FilterFunction filter;
};
constexpr NamedFilter kFilters[] = {
    {"length", filter_length},
    {"count", filter_length},
    {"string", filter_string},
    {"trim", filter_trim},
    {"upper", filter_upper},
    {"lower", filter_lower},
    {"title", filter_title},
    {"capitalize", filter_capitalize},
    {"replace", filter_replace},
    {"default", filter_default},
    {"d", filter_default},
    {"join", filter_join},
    {"tojson", filter_tojson},
    {"first", filter_first},
    {"last", filter_last},
    {"list", filter_list},
    {"items", filter_items},
    {"reverse", filter_reverse},
    {"int", filter_int},
    {"float", filter_float},
    {"abs", filter_abs},
    {"safe", filter_safe},
    {"indent", filter_indent},
    {"select", filter_select},
    {"reject", filter_reject},
    {"selectattr", filter_selectattr},
    {"rejectattr", filter_rejectattr},
    {"map", filter_map},
    {"unique", filter_unique},
};

// Tests.
const Value& single_argument(CallArguments& arguments, const char* test) {
  if (arguments.positional.size() != 1 || !arguments.keywords.empty())
    fail_template("test ", test, " takes one argument");
  return arguments.positional[0];
}
void no_arguments(CallArguments& arguments, const char* test) {
  if (!arguments.positional.empty() || !arguments.keywords.empty())
    fail_template("test ", test, " takes no arguments");
}

bool test_defined(const Value& input, CallArguments& arguments) {
  return no_arguments(arguments, "defined"), !input.is_undefined();
}
bool test_undefined(const Value& input, CallArguments& arguments) {
  return no_arguments(arguments, "undefined"), input.is_undefined();
}
bool test_none(const Value& input, CallArguments& arguments) {
  return no_arguments(arguments, "none"), input.is_none();
}
bool test_boolean(const Value& input, CallArguments& arguments) {
  return no_arguments(arguments, "boolean"), input.is_boolean();
}
bool test_true(const Value& input, CallArguments& arguments) {
  return no_arguments(arguments, "true"), input.is_boolean() && input.as_boolean();
}
bool test_false(const Value& input, CallArguments& arguments) {
  return no_arguments(arguments, "false"), input.is_boolean() && !input.as_boolean();
}
bool test_integer(const Value& input, CallArguments& arguments) {
  return no_arguments(arguments, "integer"), input.is_integer();
}
bool test_float(const Value& input, CallArguments& arguments) {
  return no_arguments(arguments, "float"), input.is_float();
}
bool test_number(const Value& input, CallArguments& arguments) {
  return no_arguments(arguments, "number"), input.is_number();
}
bool test_string(const Value& input, CallArguments& arguments) {
  return no_arguments(arguments, "string"), input.is_string();
}
bool test_mapping(const Value& input, CallArguments& arguments) {
  return no_arguments(arguments, "mapping"), input.is_dict();
}
bool test_iterable(const Value& input, CallArguments& arguments) {
  no_arguments(arguments, "iterable");
  return input.is_list() || input.is_dict() || input.is_string() || input.is_undefined();
}
bool test_sequence(const Value& input, CallArguments& arguments) {
  no_arguments(arguments, "sequence");
  return input.is_list() || input.is_dict() || input.is_string();
}
bool test_callable(const Value& input, CallArguments& arguments) {
  return no_arguments(arguments, "callable"), input.is_callable();
}
bool test_sameas(const Value& input, CallArguments& arguments) {
  // Python identity; only None, True and False are the same object whenever they are equal.
  const Value& other = single_argument(arguments, "sameas");
  return (input.is_none() && other.is_none()) ||
         (input.is_boolean() && other.is_boolean() && input.as_boolean() == other.as_boolean());
}
bool test_eq(const Value& input, CallArguments& arguments) {
  return compare("==", input, single_argument(arguments, "eq"));
}
bool test_ne(const Value& input, CallArguments& arguments) {
  return compare("!=", input, single_argument(arguments, "ne"));
}
bool test_lt(const Value& input, CallArguments& arguments) {
  return compare("<", input, single_argument(arguments, "lt"));
}
bool test_le(const Value& input, CallArguments& arguments) {
  return compare("<=", input, single_argument(arguments, "le"));
}
bool test_gt(const Value& input, CallArguments& arguments) {
  return compare(">", input, single_argument(arguments, "gt"));
}
bool test_ge(const Value& input, CallArguments& arguments) {
  return compare(">=", input, single_argument(arguments, "ge"));
}
bool test_in(const Value& input, CallArguments& arguments) {
  return contains(single_argument(arguments, "in"), input);
}
bool test_odd(const Value& input, CallArguments& arguments) {
  no_arguments(arguments, "odd");
  if (!input.is_integer()) fail_template("test odd needs an integer");
  return input.as_integer() % 2 != 0;
}
bool test_even(const Value& input, CallArguments& arguments) {
  no_arguments(arguments, "even");
  if (!input.is_integer()) fail_template("test even needs an integer");
  return input.as_integer() % 2 == 0;
}
bool test_divisibleby(const Value& input, CallArguments& arguments) {
  const Value& divisor = single_argument(arguments, "divisibleby");
  if (!input.is_integer() || !divisor.is_integer() || divisor.as_integer() == 0) {
    fail_template("test divisibleby needs integers and a non-zero divisor");
  }
  return input.as_integer() % divisor.as_integer() == 0;
}
bool test_lower(const Value& input, CallArguments& arguments) {
  no_arguments(arguments, "lower");
  return input.is_string() &&
         find_method(input, "lower").as_callable().call(arguments).text() == input.text();
}
bool test_upper(const Value& input, CallArguments& arguments) {
  no_arguments(arguments, "upper");
  return input.is_string() &&
         find_method(input, "upper").as_callable().call(arguments).text() == input.text();
}

struct NamedTest {
  std::string_view name;
  TestFunction test;
};
constexpr NamedTest kTests[] = {
    {"defined", test_defined},
    {"undefined", test_undefined},
    {"none", test_none},
    {"boolean", test_boolean},
    {"true", test_true},
    {"false", test_false},
    {"integer", test_integer},
    {"float", test_float},
    {"number", test_number},
    {"string", test_string},
    {"mapping", test_mapping},
    {"iterable", test_iterable},
    {"sequence", test_sequence},
    {"callable", test_callable},
    {"sameas", test_sameas},
    {"eq", test_eq},
    {"equalto", test_eq},
    {"==", test_eq},
    {"ne", test_ne},
    {"!=", test_ne},
    {"lt", test_lt},
    {"lessthan", test_lt},
    {"<", test_lt},
    {"le", test_le},
    {"<=", test_le},
    {"gt", test_gt},
    {"greaterthan", test_gt},
    {">", test_gt},
    {"ge", test_ge},
    {">=", test_ge},
    {"in", test_in},
    {"odd", test_odd},
    {"even", test_even},
    {"divisibleby", test_divisibleby},
    {"lower", test_lower},
    {"upper", test_upper},
};

// Global functions.
constexpr int64_t kMaxRange = 100000;  // the sandbox's limit, as in Jinja's ImmutableSandboxedEnvironment

Value global_range(CallArguments& arguments) {
  if (!arguments.keywords.empty() || arguments.positional.empty() || arguments.positional.size() > 3) {
    fail_template("range() takes 1 to 3 integer arguments");
  }
  for (const Value& argument : arguments.positional) {
    if (!argument.is_integer() && !argument.is_boolean()) fail_template("range() arguments must be integers");
  }
  const auto& p = arguments.positional;
  const int64_t start = p.size() == 1 ? 0 : p[0].as_integer();
  const int64_t stop = p.size() == 1 ? p[0].as_integer() : p[1].as_integer();
  const int64_t step = p.size() == 3 ? p[2].as_integer() : 1;
  if (step == 0) fail_template("range() step must not be zero");
  const long double count_exact = step > 0 ? std::ceil((long double)(stop - (long double)start) / step)
                                           : std::ceil(((long double)start - stop) / -(long double)step);
  const int64_t count = count_exact > 0 ? int64_t(std::min<long double>(count_exact, kMaxRange + 1)) : 0;
  if (count > kMaxRange) fail_template("range too big, the maximum size for range is ", kMaxRange);
  arguments.budget->charge_items(size_t(count));
  List values;
  values.reserve(size_t(count));
  for (int64_t i = 0; i < count; ++i) values.emplace_back(start + i * step);
  return Value(std::move(values));
}

Value global_namespace(CallArguments& arguments) {
  auto result = std::make_shared<Namespace>();
  if (arguments.positional.size() > 1)
    fail_template("namespace() takes at most one positional argument (a dict)");
  if (!arguments.positional.empty()) {
    if (!arguments.positional[0].is_dict()) fail_template("namespace() positional argument must be a dict");
    result->attributes = arguments.positional[0].as_dict();
  }
  for (const auto& [name, value] : arguments.keywords) result->attributes.set(name, value);
  return Value(std::move(result));
}

Value global_dict(CallArguments& arguments) {
  if (!arguments.positional.empty()) fail_template("dict() takes keyword arguments only");
  Dict dict;
  for (const auto& [name, value] : arguments.keywords) dict.set(name, value);
  arguments.budget->charge_items(dict.entries.size());
  return Value(std::move(dict));
}

Value global_raise_exception(CallArguments& arguments) {
  ArgumentReader reader(arguments, "raise_exception", {"message"});
  fail_template("the template raised an error: ",
                to_output_string(reader.get(0, Value::from_template_text(""))).text);
}

Value make_global(const char* name, Value (*function)(CallArguments&)) {
  return Value(std::make_shared<const Callable>(Callable{name, function}));
}

}  // namespace

FilterFunction find_filter(std::string_view name) {
  for (const NamedFilter& entry : kFilters) {
    if (entry.name == name) return entry.filter;
  }
  return nullptr;
}

TestFunction find_test(std::string_view name) {
  for (const NamedTest& entry : kTests) {
    if (entry.name == name) return entry.test;
  }
  return nullptr;
}

const Value* find_global_function(std::string_view name) {
  static const std::pair<std::string_view, Value> kGlobals[] = {
      {"range", make_global("range", global_range)},
      {"namespace", make_global("namespace", global_namespace)},
      {"dict", make_global("dict", global_dict)},
      {"raise_exception", make_global("raise_exception", global_raise_exception)},
  };
  for (const auto& [global_name, value] : kGlobals) {
    if (global_name == name) return &value;
  }
  return nullptr;
}

}  // namespace dsinfer::text::jinja
