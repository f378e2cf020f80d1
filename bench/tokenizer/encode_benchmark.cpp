// Tokenizer encode throughput, one thread, on corpus.jsonl (about 2 KB documents of English prose, Chinese
// and C++ code, encoded one document per call as a server encodes prompts). Reported as MB/s (10^6 bytes of
// UTF-8 input per second) so that it compares directly with hf_encode_benchmark.py.
//
//   build/bench/tokenizer/bench_tokenizer [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "text/incremental_detokenizer.h"
#include "text/tokenizer.h"

namespace {

using dsinfer::text::Tokenizer;

struct Document {
  std::string kind;  // english, chinese or code
  std::string text;
};

const std::vector<Document>& corpus() {
  static const std::vector<Document> documents = [] {
    std::vector<Document> loaded;
    std::ifstream file(DSINFER_TOKENIZER_CORPUS);
    for (std::string line; std::getline(file, line);) {
      const auto row = nlohmann::json::parse(line);
      loaded.push_back({row["kind"], row["text"]});
    }
    if (loaded.empty()) throw std::runtime_error("cannot read " DSINFER_TOKENIZER_CORPUS);
    return loaded;
  }();
  return documents;
}

const Tokenizer& shared_tokenizer() {
  static const Tokenizer tokenizer = Tokenizer::load(DSINFER_DEFAULT_MODEL_DIR);
  return tokenizer;
}

// Encodes the documents of one kind ("" for all) once; returns the bytes encoded.
size_t encode_documents(const Tokenizer& tokenizer, const std::string& kind) {
  size_t bytes = 0;
  for (const Document& document : corpus()) {
    if (!kind.empty() && document.kind != kind) continue;
    std::vector<int32_t> ids = tokenizer.encode(document.text);
    benchmark::DoNotOptimize(ids.data());
    bytes += document.text.size();
  }
  return bytes;
}

void report_rate(benchmark::State& state, size_t bytes_per_iteration) {
  state.counters["MB/s"] = benchmark::Counter(double(bytes_per_iteration) * double(state.iterations()) / 1e6,
                                              benchmark::Counter::kIsRate);
}

// Steady state: the piece cache holds the corpus' frequent pieces, as in a long-running server.
void encode_warm(benchmark::State& state, const std::string& kind) {
  const Tokenizer& tokenizer = shared_tokenizer();
  size_t bytes = encode_documents(tokenizer, kind);  // warm up
  for (auto _ : state) bytes = encode_documents(tokenizer, kind);
  report_rate(state, bytes);
}
BENCHMARK_CAPTURE(encode_warm, mixed, std::string())->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode_warm, english, std::string("english"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode_warm, chinese, std::string("chinese"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode_warm, code, std::string("code"))->Unit(benchmark::kMillisecond);

// First pass over the corpus with an empty piece cache (a freshly loaded tokenizer, not timed).
void encode_cold(benchmark::State& state) {
  size_t bytes = 0;
  std::optional<Tokenizer> tokenizer;
  for (auto _ : state) {
    state.PauseTiming();
    tokenizer.reset();  // freeing the previous one is not timed either
    tokenizer.emplace(Tokenizer::load(DSINFER_DEFAULT_MODEL_DIR));
    state.ResumeTiming();
    bytes = encode_documents(*tokenizer, "");
  }
  report_rate(state, bytes);
}
BENCHMARK(encode_cold)->Unit(benchmark::kMillisecond)->Iterations(5);

// Streaming decode of the corpus' ids, one id at a time.
void decode_incremental(benchmark::State& state) {
  const Tokenizer& tokenizer = shared_tokenizer();
  std::vector<std::vector<int32_t>> documents;
  size_t bytes = 0;
  for (const Document& document : corpus()) {
    documents.push_back(tokenizer.encode(document.text));
    bytes += document.text.size();
  }
  for (auto _ : state) {
    for (const auto& ids : documents) {
      dsinfer::text::IncrementalDetokenizer detokenizer(tokenizer, false);
      for (int32_t id : ids) benchmark::DoNotOptimize(detokenizer.push(id));
      benchmark::DoNotOptimize(detokenizer.finish());
    }
  }
  report_rate(state, bytes);
}
BENCHMARK(decode_incremental)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
