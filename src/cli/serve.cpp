// Placeholder until the subcommand lands (its issue owns this file).
#include <cstdio>

#include "cli/commands.h"

namespace dsinfer::cli {
int run_serve(int, char**) {
  std::fprintf(stderr, "dsinfer serve: not built yet\n");
  return 2;
}
}  // namespace dsinfer::cli
