// dsinfer: one binary, one subcommand per file in src/cli/.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string_view>

#include "cli/commands.h"
#include "core/error.h"

namespace {
struct Command {
  const char* name;
  int (*run)(int argc, char** argv);
  const char* summary;
};
constexpr Command kCommands[] = {
    {"serve", dsinfer::cli::run_serve, "OpenAI-compatible HTTP server"},
    {"generate", dsinfer::cli::run_generate, "run one prompt or chat from the command line and stream the text"},
    {"logits", dsinfer::cli::run_logits, "write the logits of a token sequence to a safetensors file"},
    {"tokenize", dsinfer::cli::run_tokenize, "JSON lines in, token ids / text out"},
    {"inspect", dsinfer::cli::run_inspect, "check a checkpoint's completeness and print a summary"},
    {"bench", dsinfer::cli::run_bench, "time prefill and decode for given batch sizes"},
};

void print_usage() {
  std::fprintf(stderr, "usage: dsinfer <command> [options]   (dsinfer <command> --help for its options)\n\ncommands:\n");
  for (const auto& command : kCommands) std::fprintf(stderr, "  %-10s %s\n", command.name, command.summary);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    print_usage();
    return argc < 2 ? 2 : 0;
  }
  for (const auto& command : kCommands) {
    if (std::string_view(argv[1]) == command.name) {
      try {
        return command.run(argc - 1, argv + 1);
      } catch (const std::exception& error) {
        std::fprintf(stderr, "dsinfer %s: error: %s\n", command.name, error.what());
        return 1;
      }
    }
  }
  std::fprintf(stderr, "dsinfer: unknown command '%s'\n", argv[1]);
  print_usage();
  return 2;
}
