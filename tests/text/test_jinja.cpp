// The Jinja interpreter's guards: syntax errors name line and column, unsupported statements are refused, and
// hostile templates (huge loops, exponential strings, deep nesting) stop with a clear error within a bound.
#include <gtest/gtest.h>

#include <chrono>

#include "text/jinja/interpreter.h"
#include "text/jinja/parser.h"

namespace dsinfer::text::jinja {
namespace {

std::string render(const std::string& source, const RenderLimits& limits = {}) {
  const auto parsed = parse_template(source, "test.jinja", limits.max_nesting_depth);
  return render_template(*parsed, Dict{}, limits).text;
}

// The error message of rendering source, checked to arrive within `seconds`.
std::string error_of(const std::string& source, const RenderLimits& limits = {}, double seconds = 5.0) {
  const auto start = std::chrono::steady_clock::now();
  std::string message = "no error";
  try {
    render(source, limits);
  } catch (const Error& error) {
    message = error.what();
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(elapsed, seconds) << source.substr(0, 80);
  return message;
}

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

TEST(Jinja, SyntaxErrorsNameLineAndColumn) {
  EXPECT_CONTAINS(error_of("line one\n{{ 1 + }}"), "test.jinja line 2, column 8: unexpected '}}'");
  EXPECT_CONTAINS(error_of("{% if x %}"), "missing {% endif %}");
  EXPECT_CONTAINS(error_of("ab\n  {{ 'unclosed }}"), "line 2, column 6: string is not closed");
  EXPECT_CONTAINS(error_of("{{ x | nosuchfilter }}"), "line 1, column 8: unknown filter 'nosuchfilter'");
  EXPECT_CONTAINS(error_of("{{ x is nosuchtest }}"), "unknown test 'nosuchtest'");
  EXPECT_CONTAINS(error_of("{% endfor %}"), "unexpected {% endfor %}");
  EXPECT_CONTAINS(error_of("{% break %}"), "{% break %} outside a for loop");
  EXPECT_CONTAINS(error_of("{{ x }"), "tag is not closed with }}");
  EXPECT_CONTAINS(error_of("{# open"), "comment is not closed");
  EXPECT_CONTAINS(error_of("{{ a ; b }}"), "unexpected character ';'");
}

TEST(Jinja, UnsupportedStatementsAreRefused) {
  for (const char* statement : {"macro m()", "include 'x'", "import 'x' as y", "extends 'x'", "block b",
                                "raw", "call m()", "filter upper", "with x = 1"}) {
    EXPECT_CONTAINS(error_of(std::string("{% ") + statement + " %}"), "unsupported statement");
  }
  EXPECT_CONTAINS(error_of("{% for x in y recursive %}{% endfor %}"),
                  "recursive for loops are not supported");
  EXPECT_CONTAINS(error_of("{{ f(*args) }}"), "*args and **kwargs are not supported");
}

TEST(Jinja, RuntimeErrorsNameTheirLocation) {
  EXPECT_CONTAINS(error_of("ok\n{{ 'a' + missing }}"), "test.jinja line 2, column 8: 'missing' is undefined");
  EXPECT_CONTAINS(error_of("{{ raise_exception('roles must alternate') }}"),
                  "the template raised an error: roles must alternate");
  EXPECT_CONTAINS(error_of("{{ [1][0] + 'x' }}"), "unsupported operand types for +: 'int' and 'str'");
}

TEST(Jinja, LoopIterationsAreBounded) {
  // 100,000 x 100,000 iterations would take hours; the default limit of a million stops it.
  EXPECT_CONTAINS(
      error_of("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"),
      "more than 1000000 loop iterations");
  RenderLimits small;
  small.max_loop_iterations = 10;
  EXPECT_CONTAINS(error_of("{% for i in range(11) %}{% endfor %}", small), "more than 10 loop iterations");
  EXPECT_EQ(render("{% for i in range(10) %}{% endfor %}ok", small), "ok");
  EXPECT_CONTAINS(error_of("{{ range(1000000) }}"), "range too big");
}

TEST(Jinja, OutputAndStringGrowthAreBounded) {
  EXPECT_CONTAINS(error_of("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}"),
                  "output is larger than");
  // Doubling a string 64 times would need 2^64 bytes.
  EXPECT_CONTAINS(
      error_of("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}"
               "{% endfor %}{{ ns.s|length }}"),
      "bytes of strings");
  EXPECT_CONTAINS(error_of("{{ 'x' * 1000000000000 }}"), "bytes of strings");
  EXPECT_CONTAINS(
      error_of("{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}"
               "{% endfor %}"),
      "list or dict items");
  EXPECT_CONTAINS(error_of("{{ ('x' * 100000).replace('x', 'y' * 100000) }}"), "bytes of strings");
  RenderLimits small;
  small.max_output_bytes = 5;
  EXPECT_CONTAINS(error_of("abcdef", small), "output is larger than 5 bytes");
}

TEST(Jinja, NestingDepthIsBounded) {
  const int depth = 100000;
  EXPECT_CONTAINS(error_of("{{ " + std::string(depth, '(') + "1" + std::string(depth, ')') + " }}"),
                  "nests more than 200 levels");
  std::string nested_ifs;
  for (int i = 0; i < depth; ++i) nested_ifs += "{% if true %}";
  EXPECT_CONTAINS(error_of(nested_ifs), "nests more than 200 levels");
  std::string long_chain = "{{ 1";
  for (int i = 0; i < depth; ++i) long_chain += " + 1";
  EXPECT_CONTAINS(error_of(long_chain + " }}"), "nests more than 200 levels");
  std::string filters = "{{ 'a'";
  for (int i = 0; i < depth; ++i) filters += "|trim";
  EXPECT_CONTAINS(error_of(filters + " }}"), "nests more than 200 levels");
  std::string nots = "{{ ";
  for (int i = 0; i < depth; ++i) nots += "not ";
  EXPECT_CONTAINS(error_of(nots + "1 }}"), "nests more than 200 levels");
  // Within the limit, nesting works.
  EXPECT_EQ(render("{{ " + std::string(50, '(') + "7" + std::string(50, ')') + " }}"), "7");
}

TEST(Jinja, DeepJsonInputIsBounded) {
  std::string deep = "1";
  for (int i = 0; i < 500; ++i) deep = "[" + deep + "]";
  EXPECT_THROW(from_json(nlohmann::json::parse(deep), true, 200), Error);
  EXPECT_NO_THROW(from_json(nlohmann::json::parse(deep), true, 600));
}

TEST(Jinja, SandboxHasNoMutatingMethods) {
  // ImmutableSandboxedEnvironment: list.append and dict.update do not exist for templates.
  EXPECT_CONTAINS(error_of("{% set l = [] %}{{ l.append(1) }}"), "has no attribute 'append'");
  EXPECT_CONTAINS(error_of("{% set d = {} %}{{ d.update({}) }}"), "has no attribute 'update'");
}

}  // namespace
}  // namespace dsinfer::text::jinja
