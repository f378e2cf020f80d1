// Jinja lexer: splits a template into text and tag tokens, applying whitespace control the way Hugging Face
// configures Jinja for chat templates (trim_blocks and lstrip_blocks on, "-" and "+" modifiers, a single
// trailing newline of the template dropped, newlines normalized to "\n").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dsinfer::text::jinja {

// Where a token or syntax node starts: a byte offset into the template source, turned into "line L, column C"
// only when an error is reported.
struct SourceLocation {
  size_t offset = 0;
};

// "line L, column C" (1-based; columns count characters) of a location in source.
std::string describe_location(std::string_view source, SourceLocation location);

enum class TokenKind {
  kText,            // template text between tags
  kOutputBegin,     // {{
  kOutputEnd,       // }}
  kStatementBegin,  // {%
  kStatementEnd,    // %}
  kName,
  kString,  // text holds the unescaped value
  kInteger,
  kFloat,
  kOperator,  // text holds the operator: + - * / // % ** ~ == != < <= > >= = | . , : ( ) [ ] { }
  kEnd,
};

struct Token {
  TokenKind kind;
  std::string text;
  SourceLocation location;
  int64_t integer = 0;
  double number = 0.0;
};

// Throws dsinfer::Error "<template_name> line L, column C: ..." for malformed input (unclosed tags or
// strings, characters that cannot start a token).
std::vector<Token> tokenize_template(std::string_view source, const std::string& template_name);

}  // namespace dsinfer::text::jinja
