// dsinfer logits --model DIR --ids 3,17,42 --out FILE [--device cpu|cuda] [--chunk N] [--fp8-activations]
//                [--threads N]
// Writes a safetensors file with one F32 tensor "logits" [number of ids, vocab]: the logits at every position of
// the id sequence. --chunk N feeds the ids through the KV cache N at a time (1: token-by-token decoding; 0 or
// absent: one forward). This interface is how other tools check the engine against references: keep it stable.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "io/safetensors.h"
#include "model/model_runner.h"

namespace dsinfer::cli {

namespace {

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(start, end - start);
    int64_t value = 0;
    auto [rest, error] = std::from_chars(item.data(), item.data() + item.size(), value);
    DSINFER_CHECK(!item.empty() && error == std::errc() && rest == item.data() + item.size() && value >= 0 &&
                      value <= INT32_MAX,
                  "--ids: item ", ids.size(), " (\"", item, "\") is not a non-negative token id; expected e.g. 3,17,42");
    ids.push_back(static_cast<int32_t>(value));
    start = end + 1;
  }
  return ids;
}

}  // namespace

int run_logits(int argc, char** argv) {
  CLI::App app("Write the logits at every position of a token id sequence to a safetensors file", "dsinfer logits");
  std::string model_dir = DSINFER_DEFAULT_MODEL_DIR, ids_text, out_path, device_name = "cpu";
  int chunk = 0, threads = 0;
  bool fp8_activations = false;
  app.add_option("--model", model_dir, "Hugging Face model folder (config.json + safetensors)")->capture_default_str();
  app.add_option("--ids", ids_text, "comma-separated token ids, e.g. 3,17,42")->required();
  app.add_option("--out", out_path, "output safetensors file (tensor \"logits\", F32 [ids, vocab])")->required();
  app.add_option("--device", device_name, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  app.add_option("--chunk", chunk, "feed the ids N at a time through the KV cache (1: token by token; 0: all at once)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--fp8-activations", fp8_activations,
               "quantize each FP8 linear's input per 1x128 group to e4m3 (W8A8 emulation on the CPU)");
  app.add_option("--threads", threads, "CPU threads (default: all cores)")->check(CLI::PositiveNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  if (threads > 0) set_cpu_thread_count(threads);

  const std::vector<int32_t> ids = parse_ids(ids_text);
  const int length = static_cast<int>(ids.size());
  const int step = chunk == 0 ? length : std::min(chunk, length);
  ModelRunnerOptions options;
  options.model_dir = model_dir;
  options.device = device_name == "cuda" ? Device::kCuda : Device::kCpu;
  options.fp8_activations = fp8_activations;
  options.num_kv_pages = (length + options.page_size - 1) / options.page_size;
  options.max_batch_tokens = step;
  auto runner = ModelRunner::create(options);
  const int64_t vocab = runner->config().vocab_size;
  for (int i = 0; i < length; ++i) {
    DSINFER_CHECK(ids[i] < vocab, "--ids: token id ", ids[i], " (item ", i, ") is outside the vocabulary [0, ", vocab,
                  ") of ", model_dir);
  }

  std::vector<int32_t> pages(static_cast<size_t>(options.num_kv_pages));
  std::iota(pages.begin(), pages.end(), 0);
  Tensor logits = Tensor::empty({length, vocab}, DType::kF32);
  for (int start = 0; start < length; start += step) {
    ForwardBatch batch;
    SequenceSlice sequence;
    sequence.num_cached_tokens = start;
    sequence.num_new_tokens = std::min(step, length - start);
    sequence.page_table = pages;
    sequence.all_logits = true;
    batch.sequences.push_back(sequence);
    batch.token_ids.assign(ids.begin() + start, ids.begin() + start + sequence.num_new_tokens);
    Tensor part = runner->forward(batch);
    std::copy_n(part.data_as<float>(), part.numel(), logits.data_as<float>() + static_cast<int64_t>(start) * vocab);
  }
  write_safetensors(out_path, {{"logits", logits}});
  std::fprintf(stderr, "dsinfer logits: wrote %s: logits [%d, %lld]\n", out_path.c_str(), length,
               static_cast<long long>(vocab));
  return 0;
}

}  // namespace dsinfer::cli
