// Syntax tree of a parsed Jinja template. Nodes own their children; the tree is immutable after parsing and
// shared by concurrent renders.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/jinja/builtins.h"
#include "text/jinja/lexer.h"
#include "text/jinja/value.h"

namespace dsinfer::text::jinja {

struct Expression;
using ExpressionPointer = std::unique_ptr<Expression>;

enum class ExpressionKind {
  kLiteral,    // literal
  kName,       // name
  kList,       // operands: the items (also tuples)
  kDict,       // operands: key0, value0, key1, value1, ...
  kAttribute,  // operands[0].name
  kSubscript,  // operands[0][operands[1]]
  kSlice,      // operands[0][operands[1]:operands[2]:operands[3]]; absent parts are null
  kCall,       // operands[0](operands[1..], keywords)
  kFilter,     // operands[0] | filter(operands[1..], keywords)
  kTest,       // operands[0] is [not] test(operands[1..], keywords)
  kNegate,     // -operands[0]
  kNot,        // not operands[0]
  kAnd,        // operands[0] and operands[1]
  kOr,         // operands[0] or operands[1]
  kBinary,     // operands[0] <name> operands[1] for + - * / // % ** ~
  kCompare,    // operands[0] <comparisons[0]> operands[1] <comparisons[1]> operands[2] ... (Python chaining)
  kConditional,  // operands[0] if operands[1] else operands[2] (operands[2] null: Undefined)
};

struct Expression {
  ExpressionKind kind;
  SourceLocation location;
  Value literal;
  std::string name;                      // variable, attribute, or binary operator
  std::vector<std::string> comparisons;  // kCompare: == != < <= > >= in "not in"
  std::vector<ExpressionPointer> operands;
  std::vector<std::pair<std::string, ExpressionPointer>> keywords;
  FilterFunction filter = nullptr;  // kFilter
  TestFunction test = nullptr;      // kTest
  bool negated = false;             // kTest: "is not"
};

struct Statement;
using Body = std::vector<std::unique_ptr<Statement>>;

enum class StatementKind {
  kText,      // text
  kOutput,    // {{ expression }}
  kIf,        // branches
  kFor,       // {% for targets in expression [if filter] %} body {% else %} else_body {% endfor %}
  kSet,       // {% set target[.attribute] = expression %}, or {% set target %}body{% endset %}
  kBreak,     // {% break %}
  kContinue,  // {% continue %}
};

struct IfBranch {
  ExpressionPointer condition;  // null for {% else %}
  Body body;
};

struct Statement {
  StatementKind kind;
  SourceLocation location;
  std::string text;
  ExpressionPointer expression;
  std::vector<IfBranch> branches;
  std::vector<std::string> targets;
  std::string target_attribute;
  ExpressionPointer loop_filter;
  Body body;
  Body else_body;
};

}  // namespace dsinfer::text::jinja
