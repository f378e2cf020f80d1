// Drives a Scheduler over a FakeModel step by step and records what each request produced.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/scheduler.h"
#include "engine/fake_model.h"

namespace dsinfer::testing {

struct Outcome {
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;
  std::vector<GeneratedToken> prompt_logprobs;
  bool prompt_logprobs_after_tokens = false;  // a prompt logprob arrived after an output token (a bug)
  std::string text;
  FinishReason reason = FinishReason::kNone;
  std::string matched_stop;
  std::optional<int32_t> matched_stop_token;
  std::string error;
  int cached_tokens = 0;
  int num_final_updates = 0;
};

// Token id t decodes to the letter 'a' + t % 26 (enough to exercise stop strings).
class LetterTextStream : public TokenTextStream {
 public:
  std::string push(int32_t token_id) override { return std::string(1, static_cast<char>('a' + token_id % 26)); }
  std::string finish() override { return {}; }
};

inline std::string letters(const std::vector<int32_t>& tokens) {
  std::string text;
  for (int32_t token : tokens) text += static_cast<char>('a' + token % 26);
  return text;
}

struct SchedulerConfig {
  int64_t vocab = 64;
  int page_size = 4;
  int num_pages = 512;
  int max_batch_tokens = 4096;
  bool device_sampling = false;  // the fake model acts as a GPU backend
  SchedulerOptions options;
};

class SchedulerHarness {
 public:
  explicit SchedulerHarness(const SchedulerConfig& config)
      : model(config.vocab, config.page_size, config.num_pages, config.max_batch_tokens),
        metrics(std::make_unique<EngineMetrics>()),
        scheduler(model, config.options, metrics.get()) {
    model.device_sampling = config.device_sampling;
  }

  uint64_t add(std::vector<int32_t> prompt, SamplingParams params, uint64_t group = 0, bool with_text = false) {
    auto request = std::make_unique<Request>();
    const uint64_t id = next_id++;
    request->id = id;
    request->input.prompt = std::move(prompt);
    request->input.params = std::move(params);
    request->input.prefix_group = group;
    if (with_text) request->input.text = std::make_unique<LetterTextStream>();
    request->input.on_update = [this](GenerationUpdate&& update) {
      Outcome& outcome = outcomes[update.request_id];
      outcome.prompt_logprobs_after_tokens |= !update.prompt_logprobs.empty() && !outcome.tokens.empty();
      for (auto& token : update.prompt_logprobs) outcome.prompt_logprobs.push_back(std::move(token));
      for (const auto& token : update.tokens) {
        outcome.tokens.push_back(token.token_id);
        outcome.logprobs.push_back(token.logprob);
      }
      outcome.text += update.text;
      outcome.cached_tokens = update.cached_tokens;
      if (update.finish_reason != FinishReason::kNone) {
        ++outcome.num_final_updates;
        outcome.reason = update.finish_reason;
        outcome.matched_stop = update.matched_stop;
        outcome.matched_stop_token = update.matched_stop_token;
        outcome.error = update.error;
      }
    };
    scheduler.add(std::move(request));
    return id;
  }

  void run_until_idle(int max_steps = 100000) {
    for (int step = 0; step < max_steps && scheduler.has_work(); ++step) scheduler.step();
    ASSERT_FALSE(scheduler.has_work()) << "scheduler still busy after " << max_steps << " steps";
  }

  FakeModel model;
  std::unique_ptr<EngineMetrics> metrics;
  Scheduler scheduler;
  std::map<uint64_t, Outcome> outcomes;
  uint64_t next_id = 1;
};

// Greedy continuation computed straight from the fake model's definition (no cache, no batching).
inline std::vector<int32_t> reference_greedy(std::vector<int32_t> tokens, int64_t vocab, int max_new_tokens) {
  std::vector<int32_t> output;
  std::vector<float> row(static_cast<size_t>(vocab));
  for (int step = 0; step < max_new_tokens; ++step) {
    FakeModel::fill_logits(FakeModel::chain(tokens, tokens.size()), vocab, row.data());
    int32_t best = 0;
    for (int32_t token = 1; token < vocab; ++token)
      if (row[token] > row[best]) best = token;
    output.push_back(best);
    tokens.push_back(best);
  }
  return output;
}

}  // namespace dsinfer::testing
