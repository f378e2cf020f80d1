// CPU forward throughput on the dsv3-tiny-bf16 fixture (hidden 192, 3 layers, 16 experts top-4): prefill
// tokens/s for one prompt of N tokens, and decode tokens/s for a batch of B sequences at context C.
// A sanity figure for the reference backend, not a target. Results go to bench/RESULTS.md.
#include <benchmark/benchmark.h>

#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "model/model_runner.h"

namespace dsinfer {
namespace {

constexpr int kPageSize = 64;

std::unique_ptr<ModelRunner> make_runner(int max_tokens) {
  ModelRunnerOptions options;
  options.model_dir = std::string(DSINFER_TESTDATA_DIR) + "/fixtures/dsv3-tiny-bf16";
  options.page_size = kPageSize;
  options.num_kv_pages = 256;
  options.max_batch_tokens = max_tokens;
  return ModelRunner::create(options);
}

std::vector<int32_t> prompt(int length, int seed) {
  std::vector<int32_t> ids(length);
  for (int i = 0; i < length; ++i) ids[i] = 3 + (i * 7919 + seed * 104729) % 509;
  return ids;
}

std::vector<int32_t> pages_for(int sequence, int length) {
  std::vector<int32_t> pages((length + kPageSize - 1) / kPageSize);
  std::iota(pages.begin(), pages.end(), sequence * 8);
  return pages;
}

void BM_Prefill(benchmark::State& state) {
  const int length = static_cast<int>(state.range(0));
  auto runner = make_runner(length);
  ForwardBatch batch;
  batch.token_ids = prompt(length, 1);
  batch.sequences.push_back({0, length, pages_for(0, length), false});
  for (auto _ : state) benchmark::DoNotOptimize(runner->forward(batch));
  state.counters["tokens_per_second"] =
      benchmark::Counter(static_cast<double>(length) * state.iterations(), benchmark::Counter::kIsRate);
}

void BM_Decode(benchmark::State& state) {
  const int batch_size = static_cast<int>(state.range(0)), context = static_cast<int>(state.range(1));
  auto runner = make_runner(std::max(batch_size, context));
  ForwardBatch decode;
  for (int s = 0; s < batch_size; ++s) {  // prefill each sequence's context once
    ForwardBatch prefill;
    prefill.token_ids = prompt(context, s);
    prefill.sequences.push_back({0, context, pages_for(s, context + 1), false});
    runner->forward(prefill);
    decode.sequences.push_back({context, 1, pages_for(s, context + 1), false});
    decode.token_ids.push_back(5 + s);
  }
  // Every step decodes the token at position `context` again: a steady-state step at that context length.
  for (auto _ : state) benchmark::DoNotOptimize(runner->forward(decode));
  state.counters["tokens_per_second"] =
      benchmark::Counter(static_cast<double>(batch_size) * state.iterations(), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_Prefill)->Arg(37)->Arg(211)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Decode)->Args({1, 211})->Args({8, 211})->Args({32, 211})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace dsinfer

BENCHMARK_MAIN();
