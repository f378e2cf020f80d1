// Subcommand entry points; argv[0] is the subcommand name. Each lives in its own file.
#pragma once

namespace dsinfer::cli {
int run_serve(int argc, char** argv);
int run_generate(int argc, char** argv);
int run_logits(int argc, char** argv);
int run_tokenize(int argc, char** argv);
int run_inspect(int argc, char** argv);
int run_bench(int argc, char** argv);
}  // namespace dsinfer::cli
