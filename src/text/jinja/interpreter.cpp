#include "text/jinja/interpreter.h"

#include "core/error.h"

namespace dsinfer::text::jinja {
namespace {

class Interpreter {
 public:
  Interpreter(const ParsedTemplate& parsed, const Dict& variables, const RenderLimits& limits)
      : template_(parsed), budget_(limits) {
    scopes_.push_back(variables);
  }

  TaggedString run() {
    execute_body(template_.body);
    return std::move(output_);
  }

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  [[noreturn]] void error_at(SourceLocation where, const std::string& message) const {
    fail(template_.name, " ", describe_location(template_.source, where), ": ", message);
  }

  void emit(const TaggedString& text, SourceLocation where) {
    try {
      budget_.charge_bytes(text.text.size());
    } catch (const TemplateError& error) {
      error_at(where, error.what());
    }
    output_.append(text);
    if (output_.text.size() > budget_.limits().max_output_bytes) {
      error_at(where, "the template output is larger than " +
                          std::to_string(budget_.limits().max_output_bytes) + " bytes");
    }
  }

  Flow execute_body(const Body& body) {
    for (const auto& statement : body) {
      const Flow flow = execute(*statement);
      if (flow != Flow::kNormal) return flow;
    }
    return Flow::kNormal;
  }

  Flow execute(const Statement& statement) {
    switch (statement.kind) {
      case StatementKind::kText:
        emit(TaggedString::from_template(statement.text), statement.location);
        return Flow::kNormal;
      case StatementKind::kOutput:
        emit(to_output_string(evaluate(*statement.expression)), statement.location);
        return Flow::kNormal;
      case StatementKind::kIf:
        for (const IfBranch& branch : statement.branches) {
          if (!branch.condition || evaluate(*branch.condition).truthy()) return execute_body(branch.body);
        }
        return Flow::kNormal;
      case StatementKind::kFor:
        execute_for(statement);
        return Flow::kNormal;
      case StatementKind::kSet:
        execute_set(statement);
        return Flow::kNormal;
      case StatementKind::kBreak:
        return Flow::kBreak;
      case StatementKind::kContinue:
        return Flow::kContinue;
    }
    return Flow::kNormal;
  }

  void execute_for(const Statement& statement) {
    const Value iterable = evaluate(*statement.expression);
    List items;
    try {
      items = iterate(iterable);
    } catch (const TemplateError& error) {
      error_at(statement.expression->location, error.what());
    }
    if (statement.loop_filter) {  // `for x in xs if condition`: filtered before loop.index is counted
      List kept;
      for (Value& item : items) {
        scopes_.emplace_back();
        bind_targets(statement, item);
        if (evaluate(*statement.loop_filter).truthy()) kept.push_back(std::move(item));
        scopes_.pop_back();
      }
      items = std::move(kept);
    }
    if (items.empty()) {
      scopes_.emplace_back();
      execute_body(statement.else_body);
      scopes_.pop_back();
      return;
    }
    const int64_t length = static_cast<int64_t>(items.size());
    for (int64_t index = 0; index < length; ++index) {
      try {
        budget_.charge_iterations(1);
      } catch (const TemplateError& error) {
        error_at(statement.location, error.what());
      }
      // Each iteration starts from the enclosing scope: a set inside the body does not leak out (use
      // namespace).
      scopes_.emplace_back();
      bind_targets(statement, items[size_t(index)]);
      Dict loop;
      loop.set("index", Value(index + 1));
      loop.set("index0", Value(index));
      loop.set("revindex", Value(length - index));
      loop.set("revindex0", Value(length - index - 1));
      loop.set("first", Value(index == 0));
      loop.set("last", Value(index == length - 1));
      loop.set("length", Value(length));
      if (index > 0) loop.set("previtem", items[size_t(index - 1)]);
      if (index + 1 < length) loop.set("nextitem", items[size_t(index + 1)]);
      scopes_.back().set("loop", Value(std::move(loop)));
      const Flow flow = execute_body(statement.body);
      scopes_.pop_back();
      if (flow == Flow::kBreak) break;
    }
  }

  void bind_targets(const Statement& statement, const Value& item) {
    if (statement.targets.size() == 1) {
      scopes_.back().set(statement.targets[0], item);
      return;
    }
    if (!item.is_list() || item.as_list().size() != statement.targets.size()) {
      error_at(statement.location, "cannot unpack " + std::string(item.type_name()) + " into " +
                                       std::to_string(statement.targets.size()) + " loop variables");
    }
    for (size_t i = 0; i < statement.targets.size(); ++i)
      scopes_.back().set(statement.targets[i], item.as_list()[i]);
  }

  void execute_set(const Statement& statement) {
    Value value;
    if (statement.expression) {
      value = evaluate(*statement.expression);
    } else {  // {% set name %}body{% endset %}
      TaggedString saved = std::move(output_);
      output_ = TaggedString();
      execute_body(statement.body);
      value = Value(std::move(output_));
      output_ = std::move(saved);
    }
    if (statement.target_attribute.empty()) {
      scopes_.back().set(statement.targets[0], std::move(value));
      return;
    }
    const Value target = lookup(statement.targets[0]);
    if (!target.is_namespace()) {
      error_at(statement.location, "cannot set attribute '" + statement.target_attribute + "' of '" +
                                       statement.targets[0] +
                                       "': only namespace() objects have assignable attributes");
    }
    target.as_namespace().attributes.set(statement.target_attribute, std::move(value));
  }

  Value lookup(const std::string& name) const {
    for (auto scope = scopes_.rbegin(); scope != scopes_.rend(); ++scope) {
      if (const Value* found = scope->find(name)) return *found;
    }
    if (const Value* global = find_global_function(name)) return *global;
    return Value::undefined("'" + name + "' is undefined");
  }

  CallArguments evaluate_arguments(const Expression& expression, size_t first_positional) {
    CallArguments arguments;
    arguments.budget = &budget_;
    for (size_t i = first_positional; i < expression.operands.size(); ++i) {
      arguments.positional.push_back(evaluate(*expression.operands[i]));
    }
    for (const auto& [name, argument] : expression.keywords)
      arguments.keywords.emplace_back(name, evaluate(*argument));
    return arguments;
  }

  Value evaluate(const Expression& expression) {
    try {
      return evaluate_unlocated(expression);
    } catch (const TemplateError& error) {
      error_at(expression.location, error.what());
    }
  }

  Value evaluate_unlocated(const Expression& expression) {
    const auto& operands = expression.operands;
    switch (expression.kind) {
      case ExpressionKind::kLiteral:
        return expression.literal;
      case ExpressionKind::kName:
        return lookup(expression.name);
      case ExpressionKind::kList: {
        List items;
        for (const auto& operand : operands) items.push_back(evaluate(*operand));
        budget_.charge_items(items.size());
        return Value(std::move(items));
      }
      case ExpressionKind::kDict: {
        Dict dict;
        for (size_t i = 0; i + 1 < operands.size(); i += 2) {
          const Value key = evaluate(*operands[i]);
          if (!key.is_string()) fail_template("dict keys must be strings, not ", key.type_name());
          dict.set(key.text(), evaluate(*operands[i + 1]));
        }
        budget_.charge_items(dict.entries.size());
        return Value(std::move(dict));
      }
      case ExpressionKind::kAttribute:
        return get_attribute(evaluate(*operands[0]), expression.name);
      case ExpressionKind::kSubscript: {
        const Value object = evaluate(*operands[0]);
        return get_item(object, evaluate(*operands[1]));
      }
      case ExpressionKind::kSlice: {
        const Value object = evaluate(*operands[0]);
        auto bound = [&](size_t i) { return operands[i] ? evaluate(*operands[i]) : Value::none(); };
        const Value start = bound(1), stop = bound(2), step = bound(3);
        return get_slice(object, start, stop, step, budget_);
      }
      case ExpressionKind::kCall: {
        const Value callee = evaluate(*operands[0]);
        if (callee.is_undefined()) fail_template(callee.undefined_description());
        if (!callee.is_callable()) fail_template("'", callee.type_name(), "' object is not callable");
        CallArguments arguments = evaluate_arguments(expression, 1);
        return callee.as_callable().call(arguments);
      }
      case ExpressionKind::kFilter: {
        const Value input = evaluate(*operands[0]);
        CallArguments arguments = evaluate_arguments(expression, 1);
        return expression.filter(input, arguments);
      }
      case ExpressionKind::kTest: {
        const Value input = evaluate(*operands[0]);
        CallArguments arguments = evaluate_arguments(expression, 1);
        return Value(expression.test(input, arguments) != expression.negated);
      }
      case ExpressionKind::kNegate:
        return negate(evaluate(*operands[0]));
      case ExpressionKind::kNot:
        return Value(!evaluate(*operands[0]).truthy());
      case ExpressionKind::kAnd: {
        Value left = evaluate(*operands[0]);
        return left.truthy() ? evaluate(*operands[1]) : left;
      }
      case ExpressionKind::kOr: {
        Value left = evaluate(*operands[0]);
        return left.truthy() ? left : evaluate(*operands[1]);
      }
      case ExpressionKind::kBinary: {
        const Value left = evaluate(*operands[0]);
        return apply_binary_operator(expression.name, left, evaluate(*operands[1]), budget_);
      }
      case ExpressionKind::kCompare: {
        Value left = evaluate(*operands[0]);
        for (size_t i = 0; i < expression.comparisons.size(); ++i) {
          Value right = evaluate(*operands[i + 1]);
          if (!compare(expression.comparisons[i], left, right)) return Value(false);
          left = std::move(right);
        }
        return Value(true);
      }
      case ExpressionKind::kConditional:
        if (evaluate(*operands[1]).truthy()) return evaluate(*operands[0]);
        return operands[2] ? evaluate(*operands[2])
                           : Value::undefined("the conditional expression has no else");
    }
    fail_template("unknown expression");
  }

  const ParsedTemplate& template_;
  RenderBudget budget_;
  TaggedString output_;
  std::vector<Dict> scopes_;  // [0]: the variables given to render; one more per loop iteration
};

}  // namespace

TaggedString render_template(const ParsedTemplate& parsed, const Dict& variables,
                             const RenderLimits& limits) {
  return Interpreter(parsed, variables, limits).run();
}

}  // namespace dsinfer::text::jinja
