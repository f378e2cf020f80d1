// Placeholder until the subcommand lands (its issue owns this file).
#include <cstdio>

#include "cli/commands.h"

namespace dsinfer::cli {
int run_tokenize(int, char**) {
  std::fprintf(stderr, "dsinfer tokenize: not built yet\n");
  return 2;
}
}  // namespace dsinfer::cli
