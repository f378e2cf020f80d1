#include "text/jinja/lexer.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "text/utf8.h"

namespace dsinfer::text::jinja {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string normalize_newlines(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += '\n';
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

class Lexer {
 public:
  Lexer(std::string_view source, const std::string& name) : source_(source), name_(name) {
    // keep_trailing_newline is off in Jinja: one newline at the very end of the template is dropped.
    if (!source_.empty() && source_.back() == '\n') source_.remove_suffix(1);
    if (!source_.empty() && source_.back() == '\r') source_.remove_suffix(1);
  }

  std::vector<Token> run() {
    while (position_ < source_.size()) lex_text_and_tag();
    tokens_.push_back({TokenKind::kEnd, "", location(position_)});
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void error_at(size_t position, const std::string& message) const {
    fail(name_, " ", describe_location(source_, location(position)), ": ", message);
  }

  static SourceLocation location(size_t position) { return {position}; }

  // Template text up to the next tag, then the tag.
  void lex_text_and_tag() {
    size_t tag = position_;
    while (true) {
      tag = source_.find('{', tag);
      if (tag == std::string_view::npos || tag + 1 >= source_.size()) {
        tag = std::string_view::npos;
        break;
      }
      const char kind = source_[tag + 1];
      if (kind == '{' || kind == '%' || kind == '#') break;
      ++tag;
    }
    const size_t text_end = tag == std::string_view::npos ? source_.size() : tag;
    std::string_view text = source_.substr(position_, text_end - position_);
    const size_t text_start = position_;
    if (strip_next_text_) {
      while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    } else if (trim_next_newline_ && !text.empty() && text.front() == '\n') {
      text.remove_prefix(1);
    } else if (trim_next_newline_ && text.starts_with("\r\n")) {
      text.remove_prefix(2);
    }
    // Whether the text begins a line of the source (the template start, or just after a newline).
    const size_t data_offset = size_t(text.data() - source_.data());
    const bool text_at_line_start = data_offset == 0 || source_[data_offset - 1] == '\n';
    strip_next_text_ = trim_next_newline_ = false;

    if (tag != std::string_view::npos) {
      const char kind = source_[tag + 1];
      const char modifier = tag + 2 < source_.size() ? source_[tag + 2] : '\0';
      if (modifier == '-') {
        while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
      } else if (modifier != '+' && kind != '{') {
        // lstrip_blocks: spaces between the start of a line and a block or comment tag are removed.
        const size_t newline = text.rfind('\n');
        const size_t line_start = newline == std::string_view::npos ? 0 : newline + 1;
        if (newline != std::string_view::npos || text_at_line_start) {
          const std::string_view indent = text.substr(line_start);
          if (!indent.empty() && std::all_of(indent.begin(), indent.end(), is_space)) {
            text.remove_suffix(indent.size());
          }
        }
      }
    }
    if (!text.empty()) tokens_.push_back({TokenKind::kText, normalize_newlines(text), location(text_start)});
    if (tag == std::string_view::npos) {
      position_ = source_.size();
      return;
    }
    position_ = tag + 2;
    if (position_ < source_.size() && (source_[position_] == '-' || source_[position_] == '+')) ++position_;
    const char kind = source_[tag + 1];
    if (kind == '#') {
      lex_comment(tag);
    } else {
      lex_tag(tag, kind == '{');
    }
  }

  void lex_comment(size_t tag) {
    const size_t end = source_.find("#}", position_);
    if (end == std::string_view::npos) error_at(tag, "comment is not closed with #}");
    const char modifier = end > position_ ? source_[end - 1] : '\0';
    strip_next_text_ = modifier == '-';
    trim_next_newline_ = modifier != '-' && modifier != '+';
    position_ = end + 2;
  }

  void lex_tag(size_t tag, bool is_output) {
    const std::string_view closer = is_output ? "}}" : "%}";
    tokens_.push_back({is_output ? TokenKind::kOutputBegin : TokenKind::kStatementBegin, "", location(tag)});
    while (true) {
      while (position_ < source_.size() && is_space(source_[position_])) ++position_;
      if (position_ >= source_.size())
        error_at(tag, std::string("tag is not closed with ") + std::string(closer));
      const std::string_view rest = source_.substr(position_);
      const bool modified_close =
          (rest.starts_with('-') || rest.starts_with('+')) && rest.substr(1).starts_with(closer);
      if (rest.starts_with(closer) || modified_close) {
        const char modifier = modified_close ? rest[0] : '\0';
        tokens_.push_back(
            {is_output ? TokenKind::kOutputEnd : TokenKind::kStatementEnd, "", location(position_)});
        position_ += closer.size() + (modified_close ? 1 : 0);
        strip_next_text_ = modifier == '-';
        trim_next_newline_ = !is_output && modifier == '\0';  // trim_blocks: block tags only
        return;
      }
      lex_expression_token();
    }
  }

  void lex_expression_token() {
    const size_t start = position_;
    const char c = source_[position_];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      while (position_ < source_.size() &&
             (std::isalnum(static_cast<unsigned char>(source_[position_])) || source_[position_] == '_')) {
        ++position_;
      }
      tokens_.push_back(
          {TokenKind::kName, std::string(source_.substr(start, position_ - start)), location(start)});
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      lex_number();
    } else if (c == '\'' || c == '"') {
      lex_string();
    } else {
      static constexpr std::string_view kOperators[] = {"**", "//", "==", "!=", "<=", ">=", "+", "-", "*",
                                                        "/",  "%",  "~",  "<",  ">",  "=",  "|", ".", ",",
                                                        ":",  "(",  ")",  "[",  "]",  "{",  "}"};
      for (std::string_view op : kOperators) {
        if (source_.substr(position_).starts_with(op)) {
          position_ += op.size();
          tokens_.push_back({TokenKind::kOperator, std::string(op), location(start)});
          return;
        }
      }
      error_at(start, "unexpected character '" + std::string(1, c) + "' in a tag");
    }
  }

  void lex_number() {
    const size_t start = position_;
    auto digits = [&] {
      while (position_ < source_.size() &&
             (std::isdigit(static_cast<unsigned char>(source_[position_])) || source_[position_] == '_')) {
        ++position_;
      }
    };
    digits();
    bool is_float = false;
    if (position_ + 1 < source_.size() && source_[position_] == '.' &&
        std::isdigit(static_cast<unsigned char>(source_[position_ + 1]))) {
      is_float = true;
      ++position_;
      digits();
    }
    if (position_ < source_.size() && (source_[position_] == 'e' || source_[position_] == 'E')) {
      size_t exponent = position_ + 1;
      if (exponent < source_.size() && (source_[exponent] == '+' || source_[exponent] == '-')) ++exponent;
      if (exponent < source_.size() && std::isdigit(static_cast<unsigned char>(source_[exponent]))) {
        is_float = true;
        position_ = exponent;
        digits();
      }
    }
    std::string text;
    for (char c : source_.substr(start, position_ - start)) {
      if (c != '_') text += c;
    }
    Token token{is_float ? TokenKind::kFloat : TokenKind::kInteger, text, location(start)};
    try {
      if (is_float) {
        token.number = std::stod(text);
      } else {
        token.integer = std::stoll(text);
      }
    } catch (const std::exception&) {
      error_at(start, "number " + text + " is out of range");
    }
    tokens_.push_back(std::move(token));
  }

  // A quoted string with Python's escapes (Jinja decodes string literals with "unicode-escape").
  void lex_string() {
    const size_t start = position_;
    const char quote = source_[position_++];
    std::string value;
    while (true) {
      if (position_ >= source_.size()) error_at(start, "string is not closed");
      const char c = source_[position_++];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        continue;
      }
      if (position_ >= source_.size()) error_at(start, "string is not closed");
      const char escape = source_[position_++];
      switch (escape) {
        case 'n':
          value += '\n';
          break;
        case 't':
          value += '\t';
          break;
        case 'r':
          value += '\r';
          break;
        case '\\':
          value += '\\';
          break;
        case '\'':
          value += '\'';
          break;
        case '"':
          value += '"';
          break;
        case 'a':
          value += '\a';
          break;
        case 'b':
          value += '\b';
          break;
        case 'f':
          value += '\f';
          break;
        case 'v':
          value += '\v';
          break;
        case '\n':
          break;  // line continuation
        case 'x':
          append_utf8(value, hex_escape(start, 2));
          break;
        case 'u':
          append_utf8(value, hex_escape(start, 4));
          break;
        case 'U':
          append_utf8(value, hex_escape(start, 8));
          break;
        default:
          if (escape >= '0' && escape <= '7') {
            char32_t code = escape - '0';
            for (int i = 0; i < 2 && position_ < source_.size() && source_[position_] >= '0' &&
                            source_[position_] <= '7';
                 ++i) {
              code = code * 8 + (source_[position_++] - '0');
            }
            append_utf8(value, code);
          } else {
            value += '\\';  // Python keeps unknown escapes as written
            value += escape;
          }
      }
    }
    tokens_.push_back({TokenKind::kString, normalize_newlines(value), location(start)});
  }

  char32_t hex_escape(size_t string_start, int digits) {
    char32_t code = 0;
    for (int i = 0; i < digits; ++i) {
      if (position_ >= source_.size() || !std::isxdigit(static_cast<unsigned char>(source_[position_]))) {
        error_at(string_start, "string has a truncated \\x, \\u or \\U escape");
      }
      const char c = source_[position_++];
      code =
          code * 16 + (std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (std::tolower(c) - 'a' + 10));
    }
    if (code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
      error_at(string_start, "string escapes an invalid code point");
    return code;
  }

  std::string_view source_;
  const std::string& name_;
  size_t position_ = 0;
  bool strip_next_text_ = false;    // the previous tag ended with "-": strip whitespace after it
  bool trim_next_newline_ = false;  // the previous block tag ended plainly: trim_blocks drops one newline
  std::vector<Token> tokens_;
};

}  // namespace

std::string describe_location(std::string_view source, SourceLocation location) {
  int line = 1, column = 1;
  for (size_t i = 0; i < location.offset && i < source.size(); ++i) {
    if (source[i] == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(source[i]) & 0xC0) != 0x80) {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

std::vector<Token> tokenize_template(std::string_view source, const std::string& template_name) {
  return Lexer(source, template_name).run();
}

}  // namespace dsinfer::text::jinja
