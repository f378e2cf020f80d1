// The `dsinfer tokenize` protocol: JSON lines in, one JSON line out per input line. Other tools check the
// tokenizer through it, so it is kept stable:
//   {"text": "..."}                                    -> {"ids": [...]}          (no BOS; added tokens
//   matched)
//   {"ids": [...], "skip_special_tokens": false}       -> {"text": "..."}
//   {"messages": [...], "add_generation_prompt": false,
//    "tools": [...] or null, "chat_template_kwargs": {}} -> {"text": "...", "ids": [...]} (chat template;
//    message
//                                                         content encoded as plain text, see chat_template.h)
// Optional fields may be left out. A line that is not one of these gets {"error": "..."}; later lines still
// run.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>

#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace dsinfer::text {

struct TokenizeSession {
  const Tokenizer* tokenizer = nullptr;
  const ChatTemplate* chat_template = nullptr;  // null: "messages" requests get chat_template_error
  std::string chat_template_error;
};

// The reply (one JSON object, no newline) to one request line.
std::string answer_tokenize_request(const TokenizeSession& session, std::string_view line);

// Answers every line of input until it ends, flushing each reply.
void run_tokenize_protocol(const TokenizeSession& session, std::istream& input, std::ostream& output);

}  // namespace dsinfer::text
