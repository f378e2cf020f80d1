// The scheduler's own cost per step (batch building, page bookkeeping, stop checks, output delivery: all
// but the model forward and the sampler) with 256 requests decoding, against a model that costs nothing.
// Three deliveries: a callback that does nothing; one that posts each update to its own strand of an Asio
// io_context run by two threads; and the server's way, through an UpdateRelay (one post per step, the
// I/O threads fan out to the strands). Counters: overhead_us and sampler_us per step.
#include <benchmark/benchmark.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <thread>

#include "engine/scheduler.h"
#include "server/update_relay.h"

namespace dsinfer {
namespace {

constexpr int kVocab = 1024;

// Returns the same logits every step (a fixed, peaked distribution), instantly.
class FreeModel : public ModelBackend {
 public:
  int64_t vocab_size() const override { return kVocab; }
  int page_size() const override { return 64; }
  int num_kv_pages() const override { return 1 << 16; }
  int max_batch_tokens() const override { return 8192; }
  Tensor forward(const ForwardBatch& batch, const DeviceSampling*, bool) override {
    const int rows = batch.num_logit_rows();
    if (logits_.dim(0) < rows) {
      logits_ = Tensor::empty({rows, kVocab}, DType::kF32);
      for (int64_t i = 0; i < logits_.numel(); ++i) logits_.data_as<float>()[i] = static_cast<float>((i * 7919) % 97) * 0.1f;
    }
    return logits_.slice_rows(0, rows);
  }

 private:
  Tensor logits_ = Tensor::empty({0, kVocab}, DType::kF32);
};

class ShortText : public TokenTextStream {
 public:
  std::string push(int32_t token_id) override { return " t" + std::to_string(token_id % 100); }
  std::string finish() override { return {}; }
};

enum class Delivery { kNothing, kPostPerRequest, kRelay };

void run(benchmark::State& state, Delivery delivery) {
  const int running = static_cast<int>(state.range(0));
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  std::vector<std::thread> io_threads;
  for (int i = 0; i < 2; ++i) io_threads.emplace_back([&] { io.run(); });
  std::vector<boost::asio::strand<boost::asio::io_context::executor_type>> strands;
  for (int i = 0; i < running; ++i) strands.push_back(boost::asio::make_strand(io));

  server::UpdateRelay relay(io);
  FreeModel model;
  SchedulerOptions options;
  options.max_running_requests = running;
  Scheduler scheduler(model, options);
  for (int i = 0; i < running; ++i) {
    auto request = std::make_unique<Request>();
    request->id = static_cast<uint64_t>(i + 1);
    request->input.prompt.assign(100, i % kVocab);
    request->input.params.temperature = 0.0f;
    request->input.params.max_new_tokens = 1 << 20;  // never reached; fits the pool
    request->input.params.stop = {"never seen"};
    request->input.text = std::make_unique<ShortText>();
    auto& strand = strands[static_cast<size_t>(i)];
    if (delivery == Delivery::kPostPerRequest) {
      request->input.on_update = [&strand](GenerationUpdate&& update) {
        boost::asio::post(strand, [update = std::move(update)] { benchmark::DoNotOptimize(update.text.size()); });
      };
    } else if (delivery == Delivery::kRelay) {
      request->input.on_update = [&strand, &relay](GenerationUpdate&& update) {
        relay.push([&strand, update = std::move(update)]() mutable {
          boost::asio::post(strand, [update = std::move(update)] { benchmark::DoNotOptimize(update.text.size()); });
        });
      };
    } else {
      request->input.on_update = [](GenerationUpdate&& update) { benchmark::DoNotOptimize(update.text.size()); };
    }
    scheduler.add(std::move(request));
  }
  for (;;) {  // until every request is decoding
    const StepStats stats = scheduler.step();
    if (scheduler.num_waiting() == 0 && stats.num_prefill_sequences == 0) break;
  }
  double overhead = 0.0, overhead_cpu = 0.0, sampler = 0.0;
  for (auto _ : state) {
    const StepStats stats = scheduler.step();
    overhead += stats.overhead_seconds();
    overhead_cpu += stats.overhead_cpu_seconds;
    sampler += stats.sampling_seconds;
  }
  state.counters["overhead_us"] = benchmark::Counter(overhead * 1e6 / static_cast<double>(state.iterations()));
  state.counters["overhead_cpu_us"] = benchmark::Counter(overhead_cpu * 1e6 / static_cast<double>(state.iterations()));
  state.counters["sampler_us"] = benchmark::Counter(sampler * 1e6 / static_cast<double>(state.iterations()));
  state.counters["running"] = scheduler.num_running();
  scheduler.finish_all(FinishReason::kAbort);
  guard.reset();
  for (auto& thread : io_threads) thread.join();
}

// Churn: every request wants 16 tokens and a queue keeps 256 running, so each step also admits and prefills
// new requests (100-token prompts sharing a 64-token head) and finishes old ones, as a load test does.
void BM_SchedulerStepWithChurn(benchmark::State& state) {
  const int running = static_cast<int>(state.range(0));
  FreeModel model;
  SchedulerOptions options;
  options.max_running_requests = running;
  Scheduler scheduler(model, options);
  uint64_t next_id = 1;
  auto add = [&] {
    auto request = std::make_unique<Request>();
    request->id = next_id++;
    request->input.prompt.assign(100, 7);
    request->input.prompt[99] = static_cast<int32_t>(next_id % kVocab);
    request->input.params.temperature = 0.0f;
    request->input.params.max_new_tokens = 16;
    request->input.text = std::make_unique<ShortText>();
    request->input.on_update = [](GenerationUpdate&& update) { benchmark::DoNotOptimize(update.text.size()); };
    scheduler.add(std::move(request));
  };
  double overhead = 0.0, overhead_cpu = 0.0;
  int64_t tokens = 0;
  for (auto _ : state) {
    while (scheduler.num_waiting() < running) add();
    const StepStats stats = scheduler.step();
    overhead += stats.overhead_seconds();
    overhead_cpu += stats.overhead_cpu_seconds;
    tokens += stats.num_tokens;
  }
  state.counters["overhead_us"] = benchmark::Counter(overhead * 1e6 / static_cast<double>(state.iterations()));
  state.counters["overhead_cpu_us"] = benchmark::Counter(overhead_cpu * 1e6 / static_cast<double>(state.iterations()));
  state.counters["tokens_per_step"] = benchmark::Counter(static_cast<double>(tokens) / static_cast<double>(state.iterations()));
  scheduler.finish_all(FinishReason::kAbort);
}

void BM_SchedulerStep(benchmark::State& state) { run(state, Delivery::kNothing); }
void BM_SchedulerStepPostingPerRequest(benchmark::State& state) { run(state, Delivery::kPostPerRequest); }
void BM_SchedulerStepThroughRelay(benchmark::State& state) { run(state, Delivery::kRelay); }
BENCHMARK(BM_SchedulerStep)->Arg(256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SchedulerStepWithChurn)->Arg(256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SchedulerStepPostingPerRequest)->Arg(256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SchedulerStepThroughRelay)->Arg(256)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace dsinfer

BENCHMARK_MAIN();
