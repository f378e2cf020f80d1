#include "text/jinja/parser.h"

#include <algorithm>
#include <initializer_list>

#include "core/error.h"

namespace dsinfer::text::jinja {
namespace {

class Parser {
 public:
  Parser(const ParsedTemplate& parsed, std::vector<Token> tokens, size_t max_depth)
      : template_(parsed), tokens_(std::move(tokens)), max_depth_(max_depth) {}

  Body parse_document() {
    std::string end_keyword;
    Body body = parse_body({}, end_keyword);
    return body;
  }

 private:
  // Nesting guard: blocks and sub-expressions each take one level.
  class DepthGuard {
   public:
    DepthGuard(Parser& parser, SourceLocation where) : parser_(parser) {
      if (++parser_.depth_ > parser_.max_depth_) {
        parser_.error_at(
            where, "the template nests more than " + std::to_string(parser_.max_depth_) + " levels deep");
      }
    }
    ~DepthGuard() { --parser_.depth_; }

   private:
    Parser& parser_;
  };

  // A chain such as a + b + c or x|f|g builds a tree as deep as it is long: it counts against the depth
  // limit.
  void check_chain(size_t length, SourceLocation where) const {
    if (depth_ + length > max_depth_) {
      error_at(where, "the template nests more than " + std::to_string(max_depth_) + " levels deep");
    }
  }

  [[noreturn]] void error_at(SourceLocation where, const std::string& message) const {
    fail(template_.name, " ", describe_location(template_.source, where), ": ", message);
  }

  const Token& current() const { return tokens_[position_]; }
  const Token& peek(size_t ahead = 1) const {
    return tokens_[std::min(position_ + ahead, tokens_.size() - 1)];
  }
  Token take() {
    Token token = tokens_[position_];
    if (position_ + 1 < tokens_.size()) ++position_;
    return token;
  }
  bool at_operator(std::string_view op) const {
    return current().kind == TokenKind::kOperator && current().text == op;
  }
  bool at_name(std::string_view name) const {
    return current().kind == TokenKind::kName && current().text == name;
  }
  std::string describe(const Token& token) const {
    switch (token.kind) {
      case TokenKind::kText:
        return "template text";
      case TokenKind::kOutputBegin:
        return "'{{'";
      case TokenKind::kOutputEnd:
        return "'}}'";
      case TokenKind::kStatementBegin:
        return "'{%'";
      case TokenKind::kStatementEnd:
        return "'%}'";
      case TokenKind::kEnd:
        return "the end of the template";
      case TokenKind::kString:
        return "a string";
      default:
        return "'" + token.text + "'";
    }
  }
  void expect_operator(std::string_view op) {
    if (!at_operator(op))
      error_at(current().location, "expected '" + std::string(op) + "', found " + describe(current()));
    take();
  }
  std::string expect_name() {
    if (current().kind != TokenKind::kName)
      error_at(current().location, "expected a name, found " + describe(current()));
    return take().text;
  }
  void expect_statement_end() {
    if (current().kind != TokenKind::kStatementEnd) {
      error_at(current().location, "expected '%}', found " + describe(current()));
    }
    take();
  }

  // Statements until a {% keyword %} in `end_keywords` (consumed up to the keyword; its name is returned).
  Body parse_body(std::initializer_list<std::string_view> end_keywords, std::string& end_keyword) {
    Body body;
    while (true) {
      const Token& token = current();
      if (token.kind == TokenKind::kEnd) {
        if (end_keywords.size() == 0) return body;
        error_at(token.location, "missing {% " + std::string(*(end_keywords.end() - 1)) +
                                     " %} before the end of the template");
      }
      if (token.kind == TokenKind::kText) {
        auto statement = make_statement(StatementKind::kText, token.location);
        statement->text = take().text;
        body.push_back(std::move(statement));
      } else if (token.kind == TokenKind::kOutputBegin) {
        auto statement = make_statement(StatementKind::kOutput, take().location);
        statement->expression = parse_expression();
        if (current().kind != TokenKind::kOutputEnd)
          error_at(current().location, "expected '}}', found " + describe(current()));
        take();
        body.push_back(std::move(statement));
      } else if (token.kind == TokenKind::kStatementBegin) {
        const SourceLocation where = take().location;
        if (current().kind != TokenKind::kName)
          error_at(current().location, "expected a statement name after '{%'");
        const std::string& keyword = current().text;
        if (std::find(end_keywords.begin(), end_keywords.end(), keyword) != end_keywords.end()) {
          end_keyword = take().text;
          return body;
        }
        body.push_back(parse_statement(where));
      } else {
        error_at(token.location, "unexpected " + describe(token));
      }
    }
  }

  std::unique_ptr<Statement> make_statement(StatementKind kind, SourceLocation where) {
    auto statement = std::make_unique<Statement>();
    statement->kind = kind;
    statement->location = where;
    return statement;
  }

  std::unique_ptr<Statement> parse_statement(SourceLocation where) {
    DepthGuard guard(*this, where);
    const Token keyword = current();
    if (keyword.text == "if") return parse_if(where);
    if (keyword.text == "for") return parse_for(where);
    if (keyword.text == "set") return parse_set(where);
    if (keyword.text == "break" || keyword.text == "continue") {
      take();
      if (loop_depth_ == 0) error_at(keyword.location, "{% " + keyword.text + " %} outside a for loop");
      expect_statement_end();
      return make_statement(keyword.text == "break" ? StatementKind::kBreak : StatementKind::kContinue,
                            where);
    }
    static constexpr std::string_view kEndKeywords[] = {"elif", "else", "endif", "endfor", "endset"};
    if (std::find(std::begin(kEndKeywords), std::end(kEndKeywords), keyword.text) != std::end(kEndKeywords)) {
      error_at(keyword.location, "unexpected {% " + keyword.text + " %}");
    }
    error_at(keyword.location,
             "unsupported statement '" + keyword.text + "' (supported: if, for, set, break, continue)");
  }

  std::unique_ptr<Statement> parse_if(SourceLocation where) {
    take();  // if
    auto statement = make_statement(StatementKind::kIf, where);
    ExpressionPointer condition = parse_expression();
    expect_statement_end();
    while (true) {
      std::string end_keyword;
      Body body = parse_body({"elif", "else", "endif"}, end_keyword);
      statement->branches.push_back({std::move(condition), std::move(body)});
      if (end_keyword == "endif") break;
      if (end_keyword == "elif") {
        condition = parse_expression();
        expect_statement_end();
        continue;
      }
      expect_statement_end();  // else
      Body else_body = parse_body({"endif"}, end_keyword);
      statement->branches.push_back({nullptr, std::move(else_body)});
      break;
    }
    expect_statement_end();
    return statement;
  }

  std::unique_ptr<Statement> parse_for(SourceLocation where) {
    take();  // for
    auto statement = make_statement(StatementKind::kFor, where);
    statement->targets.push_back(expect_name());
    while (at_operator(",")) {
      take();
      statement->targets.push_back(expect_name());
    }
    if (!at_name("in"))
      error_at(current().location, "expected 'in' in the for statement, found " + describe(current()));
    take();
    statement->expression = parse_expression(/*allow_conditional=*/false);
    if (at_name("if")) {
      take();
      statement->loop_filter = parse_expression();
    }
    if (at_name("recursive")) error_at(current().location, "recursive for loops are not supported");
    expect_statement_end();
    ++loop_depth_;
    std::string end_keyword;
    statement->body = parse_body({"else", "endfor"}, end_keyword);
    --loop_depth_;
    if (end_keyword == "else") {
      expect_statement_end();
      statement->else_body = parse_body({"endfor"}, end_keyword);
    }
    expect_statement_end();
    return statement;
  }

  std::unique_ptr<Statement> parse_set(SourceLocation where) {
    take();  // set
    auto statement = make_statement(StatementKind::kSet, where);
    statement->targets.push_back(expect_name());
    if (at_operator(".")) {
      take();
      statement->target_attribute = expect_name();
    }
    if (at_operator(","))
      error_at(current().location, "assigning to several names in one set is not supported");
    if (at_operator("=")) {
      take();
      statement->expression = parse_expression();
      expect_statement_end();
      return statement;
    }
    if (!statement->target_attribute.empty())
      error_at(current().location, "expected '=' after the set target");
    expect_statement_end();  // block form: {% set name %}...{% endset %}
    std::string end_keyword;
    statement->body = parse_body({"endset"}, end_keyword);
    expect_statement_end();
    return statement;
  }

  ExpressionPointer make_expression(ExpressionKind kind, SourceLocation where) {
    auto expression = std::make_unique<Expression>();
    expression->kind = kind;
    expression->location = where;
    return expression;
  }

  ExpressionPointer parse_expression(bool allow_conditional = true) {
    DepthGuard guard(*this, current().location);
    ExpressionPointer value = parse_or();
    if (allow_conditional && at_name("if")) {
      auto conditional = make_expression(ExpressionKind::kConditional, take().location);
      conditional->operands.push_back(std::move(value));
      conditional->operands.push_back(parse_or());
      if (at_name("else")) {
        take();
        conditional->operands.push_back(parse_expression());
      } else {
        conditional->operands.push_back(nullptr);
      }
      return conditional;
    }
    return value;
  }

  ExpressionPointer parse_or() {
    ExpressionPointer left = parse_and();
    for (size_t length = 1; at_name("or"); ++length) {
      check_chain(length, current().location);
      auto node = make_expression(ExpressionKind::kOr, take().location);
      node->operands.push_back(std::move(left));
      node->operands.push_back(parse_and());
      left = std::move(node);
    }
    return left;
  }

  ExpressionPointer parse_and() {
    ExpressionPointer left = parse_not();
    for (size_t length = 1; at_name("and"); ++length) {
      check_chain(length, current().location);
      auto node = make_expression(ExpressionKind::kAnd, take().location);
      node->operands.push_back(std::move(left));
      node->operands.push_back(parse_not());
      left = std::move(node);
    }
    return left;
  }

  ExpressionPointer parse_not() {
    if (at_name("not")) {
      DepthGuard guard(*this, current().location);
      auto node = make_expression(ExpressionKind::kNot, take().location);
      node->operands.push_back(parse_not());
      return node;
    }
    return parse_compare();
  }

  ExpressionPointer parse_compare() {
    ExpressionPointer first = parse_sum();
    ExpressionPointer node;
    while (true) {
      std::string op;
      if (current().kind == TokenKind::kOperator &&
          (current().text == "==" || current().text == "!=" || current().text == "<" ||
           current().text == "<=" || current().text == ">" || current().text == ">=")) {
        op = current().text;
        take();
      } else if (at_name("in")) {
        op = "in";
        take();
      } else if (at_name("not") && peek().kind == TokenKind::kName && peek().text == "in") {
        op = "not in";
        take();
        take();
      } else {
        break;
      }
      check_chain(node ? node->operands.size() : 1, current().location);
      if (!node) {
        node = make_expression(ExpressionKind::kCompare, first->location);
        node->operands.push_back(std::move(first));
      }
      node->comparisons.push_back(op);
      node->operands.push_back(parse_sum());
    }
    return node ? std::move(node) : std::move(first);
  }

  // Binary operators of one precedence level, left-associative.
  template <typename Next>
  ExpressionPointer parse_binary_level(std::initializer_list<std::string_view> operators, Next next) {
    ExpressionPointer left = (this->*next)();
    for (size_t length = 1; current().kind == TokenKind::kOperator &&
                            std::find(operators.begin(), operators.end(), current().text) != operators.end();
         ++length) {
      check_chain(length, current().location);
      auto node = make_expression(ExpressionKind::kBinary, current().location);
      node->name = take().text;
      node->operands.push_back(std::move(left));
      node->operands.push_back((this->*next)());
      left = std::move(node);
    }
    return left;
  }
  ExpressionPointer parse_sum() { return parse_binary_level({"+", "-"}, &Parser::parse_concat); }
  ExpressionPointer parse_concat() { return parse_binary_level({"~"}, &Parser::parse_product); }
  ExpressionPointer parse_product() {
    return parse_binary_level({"*", "/", "//", "%"}, &Parser::parse_power);
  }
  ExpressionPointer parse_power() { return parse_binary_level({"**"}, &Parser::parse_unary_with_filters); }
  ExpressionPointer parse_unary_with_filters() { return parse_unary(true); }

  ExpressionPointer parse_unary(bool with_filters) {
    ExpressionPointer node;
    if (at_operator("-") || at_operator("+")) {
      DepthGuard guard(*this, current().location);
      const Token sign = take();
      ExpressionPointer operand = parse_unary(false);
      if (sign.text == "-") {
        node = make_expression(ExpressionKind::kNegate, sign.location);
        node->operands.push_back(std::move(operand));
      } else {
        node = std::move(operand);
      }
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filters) node = parse_filters_and_tests(std::move(node));
    return node;
  }

  ExpressionPointer parse_primary() {
    const Token& token = current();
    switch (token.kind) {
      case TokenKind::kName: {
        auto node = make_expression(ExpressionKind::kLiteral, token.location);
        const std::string name = take().text;
        if (name == "true" || name == "True") {
          node->literal = Value(true);
        } else if (name == "false" || name == "False") {
          node->literal = Value(false);
        } else if (name == "none" || name == "None") {
          node->literal = Value::none();
        } else {
          node->kind = ExpressionKind::kName;
          node->name = name;
        }
        return node;
      }
      case TokenKind::kString: {
        auto node = make_expression(ExpressionKind::kLiteral, token.location);
        std::string text;
        while (current().kind == TokenKind::kString) text += take().text;  // adjacent literals concatenate
        node->literal = Value::from_template_text(std::move(text));
        return node;
      }
      case TokenKind::kInteger: {
        auto node = make_expression(ExpressionKind::kLiteral, token.location);
        node->literal = Value(take().integer);
        return node;
      }
      case TokenKind::kFloat: {
        auto node = make_expression(ExpressionKind::kLiteral, token.location);
        node->literal = Value(take().number);
        return node;
      }
      case TokenKind::kOperator:
        if (token.text == "(") return parse_parenthesized();
        if (token.text == "[") return parse_list();
        if (token.text == "{") return parse_dict();
        [[fallthrough]];
      default:
        error_at(token.location, "unexpected " + describe(token) + " in an expression");
    }
  }

  // (expression) or a tuple (a, b), which behaves as a list here.
  ExpressionPointer parse_parenthesized() {
    const SourceLocation where = take().location;
    DepthGuard guard(*this, where);
    if (at_operator(")")) {
      take();
      return make_expression(ExpressionKind::kList, where);
    }
    ExpressionPointer first = parse_expression();
    if (!at_operator(",")) {
      expect_operator(")");
      return first;
    }
    auto tuple = make_expression(ExpressionKind::kList, where);
    tuple->operands.push_back(std::move(first));
    while (at_operator(",")) {
      take();
      if (at_operator(")")) break;
      tuple->operands.push_back(parse_expression());
    }
    expect_operator(")");
    return tuple;
  }

  ExpressionPointer parse_list() {
    auto node = make_expression(ExpressionKind::kList, take().location);
    DepthGuard guard(*this, node->location);
    while (!at_operator("]")) {
      node->operands.push_back(parse_expression());
      if (!at_operator(",")) break;
      take();
    }
    expect_operator("]");
    return node;
  }

  ExpressionPointer parse_dict() {
    auto node = make_expression(ExpressionKind::kDict, take().location);
    DepthGuard guard(*this, node->location);
    while (!at_operator("}")) {
      node->operands.push_back(parse_expression());
      expect_operator(":");
      node->operands.push_back(parse_expression());
      if (!at_operator(",")) break;
      take();
    }
    expect_operator("}");
    return node;
  }

  ExpressionPointer parse_postfix(ExpressionPointer node) {
    for (size_t length = 1;; ++length) {
      check_chain(length, current().location);
      if (at_operator(".")) {
        auto attribute = make_expression(ExpressionKind::kAttribute, take().location);
        if (current().kind == TokenKind::kInteger) {  // x.0 means x[0] in Jinja
          attribute->kind = ExpressionKind::kSubscript;
          attribute->operands.push_back(std::move(node));
          auto index = make_expression(ExpressionKind::kLiteral, current().location);
          index->literal = Value(take().integer);
          attribute->operands.push_back(std::move(index));
        } else {
          attribute->name = expect_name();
          attribute->operands.push_back(std::move(node));
        }
        node = std::move(attribute);
      } else if (at_operator("[")) {
        node = parse_subscript(std::move(node));
      } else if (at_operator("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExpressionPointer parse_subscript(ExpressionPointer object) {
    const SourceLocation where = take().location;
    DepthGuard guard(*this, where);
    std::vector<ExpressionPointer> parts;  // start, stop, step of a slice
    bool is_slice = false;
    auto parse_optional = [&]() -> ExpressionPointer {
      if (at_operator(":") || at_operator("]")) return nullptr;
      return parse_expression();
    };
    parts.push_back(parse_optional());
    while (at_operator(":") && parts.size() < 3) {
      is_slice = true;
      take();
      parts.push_back(parse_optional());
    }
    expect_operator("]");
    if (!is_slice) {
      if (!parts[0]) error_at(where, "empty subscript []");
      auto node = make_expression(ExpressionKind::kSubscript, where);
      node->operands.push_back(std::move(object));
      node->operands.push_back(std::move(parts[0]));
      return node;
    }
    auto node = make_expression(ExpressionKind::kSlice, where);
    node->operands.push_back(std::move(object));
    parts.resize(3);
    for (auto& part : parts) node->operands.push_back(std::move(part));
    return node;
  }

  // (positional..., name=value...) appended to node's operands and keywords.
  void parse_call_arguments(Expression& node) {
    expect_operator("(");
    DepthGuard guard(*this, node.location);
    while (!at_operator(")")) {
      if (at_operator("*") || at_operator("**"))
        error_at(current().location, "*args and **kwargs are not supported");
      if (current().kind == TokenKind::kName && peek().kind == TokenKind::kOperator && peek().text == "=") {
        std::string name = take().text;
        take();  // =
        node.keywords.emplace_back(std::move(name), parse_expression());
      } else {
        if (!node.keywords.empty())
          error_at(current().location, "positional argument after keyword arguments");
        node.operands.push_back(parse_expression());
      }
      if (!at_operator(",")) break;
      take();
    }
    expect_operator(")");
  }

  ExpressionPointer parse_call(ExpressionPointer callee) {
    auto node = make_expression(ExpressionKind::kCall, current().location);
    node->operands.push_back(std::move(callee));
    parse_call_arguments(*node);
    return node;
  }

  ExpressionPointer parse_filters_and_tests(ExpressionPointer node) {
    for (size_t length = 1;; ++length) {
      check_chain(length, current().location);
      if (at_operator("|")) {
        take();
        const SourceLocation where = current().location;
        auto filter = make_expression(ExpressionKind::kFilter, where);
        filter->name = expect_name();
        filter->filter = find_filter(filter->name);
        if (filter->filter == nullptr) error_at(where, "unknown filter '" + filter->name + "'");
        filter->operands.push_back(std::move(node));
        if (at_operator("(")) parse_call_arguments(*filter);
        node = std::move(filter);
      } else if (at_name("is")) {
        take();
        const SourceLocation where = current().location;
        auto test = make_expression(ExpressionKind::kTest, where);
        if (at_name("not")) {
          take();
          test->negated = true;
        }
        test->name = expect_name();
        test->test = find_test(test->name);
        if (test->test == nullptr) error_at(where, "unknown test '" + test->name + "'");
        test->operands.push_back(std::move(node));
        const bool starts_argument =
            current().kind == TokenKind::kString || current().kind == TokenKind::kInteger ||
            current().kind == TokenKind::kFloat ||
            (current().kind == TokenKind::kName && !at_name("else") && !at_name("or") && !at_name("and") &&
             !at_name("if") && !at_name("is")) ||
            at_operator("[") || at_operator("{");
        if (at_operator("(")) {
          parse_call_arguments(*test);
        } else if (starts_argument) {  // `x is divisibleby 3`
          test->operands.push_back(parse_postfix(parse_primary()));
        }
        node = std::move(test);
      } else if (at_operator("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  const ParsedTemplate& template_;
  std::vector<Token> tokens_;
  size_t position_ = 0;
  size_t max_depth_;
  size_t depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

std::shared_ptr<const ParsedTemplate> parse_template(std::string source, std::string name,
                                                     size_t max_nesting_depth) {
  auto parsed = std::make_shared<ParsedTemplate>();
  parsed->name = std::move(name);
  parsed->source = std::move(source);
  std::vector<Token> tokens = tokenize_template(parsed->source, parsed->name);
  parsed->body = Parser(*parsed, std::move(tokens), max_nesting_depth).parse_document();
  return parsed;
}

}  // namespace dsinfer::text::jinja
