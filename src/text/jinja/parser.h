// Jinja parser for the subset chat templates use: text, {{ expressions }}, {% if / elif / else %},
// {% for [if] / else %}, {% set %} (including namespace attributes and block form), {% break / continue %},
// comments, and expressions with literals, lists, dicts, attribute and item access, slices, calls, filters,
// tests, arithmetic, comparisons, `in`, `and` / `or` / `not`, `~` and `a if b else c`. Anything else (macros,
// includes, ...) is rejected with its line and column.
#pragma once

#include <memory>
#include <string>

#include "text/jinja/ast.h"

namespace dsinfer::text::jinja {

struct ParsedTemplate {
  std::string name;    // for error messages, e.g. "chat template (tokenizer_config.json)"
  std::string source;  // locations point into it
  Body body;
};

// Throws dsinfer::Error "<name> line L, column C: ..." on syntax errors or nesting deeper than
// max_nesting_depth.
std::shared_ptr<const ParsedTemplate> parse_template(std::string source, std::string name,
                                                     size_t max_nesting_depth);

}  // namespace dsinfer::text::jinja
