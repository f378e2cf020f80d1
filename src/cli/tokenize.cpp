// dsinfer tokenize: the tokenizer and chat template over JSON lines (protocol in text/tokenize_protocol.h).
#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "core/error.h"
#include "text/chat_template.h"
#include "text/tokenize_protocol.h"
#include "text/tokenizer.h"

namespace dsinfer::cli {

int run_tokenize(int argc, char** argv) {
  CLI::App app{
      "Reads JSON lines on stdin and writes one JSON line per input line on stdout:\n"
      "  {\"text\": ...} -> {\"ids\": [...]}   (no BOS)\n"
      "  {\"ids\": [...], \"skip_special_tokens\": bool} -> {\"text\": ...}\n"
      "  {\"messages\": [...], \"add_generation_prompt\": bool} -> {\"text\": ..., \"ids\": [...]}\n"
      "    (optional \"tools\" and \"chat_template_kwargs\"; message content is encoded as plain text)\n"
      "A bad line gets {\"error\": ...}.",
      "dsinfer tokenize"};
  std::string model_dir = DSINFER_DEFAULT_MODEL_DIR;
  std::string chat_template_file;
  app.add_option("--model", model_dir, "model folder with tokenizer.json and tokenizer_config.json")
      ->capture_default_str();
  app.add_option("--chat-template", chat_template_file,
                 "Jinja chat template file to use instead of tokenizer_config.json's chat_template");
  CLI11_PARSE(app, argc, argv);

  const text::Tokenizer tokenizer = text::Tokenizer::load(model_dir);
  text::TokenizeSession session;
  session.tokenizer = &tokenizer;
  std::optional<text::ChatTemplate> chat_template;
  if (!chat_template_file.empty()) {
    chat_template =
        text::ChatTemplate::from_file(chat_template_file, model_dir);  // a bad file is a startup error
  } else {
    try {  // a model without a usable chat template still tokenizes; "messages" lines report why not
      chat_template = text::ChatTemplate::from_tokenizer_config(model_dir);
    } catch (const Error& error) {
      session.chat_template_error = error.what();
    }
  }
  if (chat_template) session.chat_template = &*chat_template;

  std::ios::sync_with_stdio(false);
  text::run_tokenize_protocol(session, std::cin, std::cout);
  return 0;
}

}  // namespace dsinfer::cli
