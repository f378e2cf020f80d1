// Scheduler behaviour on the deterministic fake model: outputs equal the uncached reference; prefix
// cache hits, chunked prefill and preemption change nothing in the outputs; limits, aborts, errors; and
// thousands of random requests with random aborts leak no KV page.
#include <gtest/gtest.h>

#include <random>

#include "engine/scheduler_harness.h"

namespace dsinfer::testing {
namespace {

std::vector<int32_t> random_tokens(std::mt19937& random, size_t length, int64_t vocab) {
  std::vector<int32_t> tokens(length);
  for (auto& token : tokens) token = static_cast<int32_t>(random() % static_cast<uint32_t>(vocab));
  return tokens;
}

SamplingParams greedy(int max_new_tokens) {
  SamplingParams params;
  params.temperature = 0.0f;
  params.max_new_tokens = max_new_tokens;
  params.logprobs = true;
  return params;
}

SamplingParams seeded(int max_new_tokens, uint64_t seed) {
  SamplingParams params;
  params.temperature = 0.8f;
  params.top_p = 0.9f;
  params.seed = seed;
  params.max_new_tokens = max_new_tokens;
  params.logprobs = true;
  return params;
}

struct Workload {
  std::vector<std::vector<int32_t>> prompts;
  std::vector<SamplingParams> params;
};

// Prompts sharing prefixes (several lengths, across page boundaries), sampled with seeds.
Workload make_workload(int count, uint64_t seed) {
  std::mt19937 random(static_cast<uint32_t>(seed));
  const std::vector<int32_t> shared = random_tokens(random, 45, 64);
  Workload workload;
  for (int i = 0; i < count; ++i) {
    std::vector<int32_t> prompt(shared.begin(), shared.begin() + static_cast<long>(random() % 46));
    const std::vector<int32_t> tail = random_tokens(random, 1 + random() % 20, 64);
    prompt.insert(prompt.end(), tail.begin(), tail.end());
    workload.prompts.push_back(prompt);
    workload.params.push_back(i % 3 == 0 ? greedy(5 + i % 13) : seeded(5 + i % 13, 1000 + static_cast<uint64_t>(i)));
  }
  return workload;
}

std::vector<Outcome> run_workload(const Workload& workload, const SchedulerConfig& config, int* preemptions = nullptr) {
  SchedulerHarness harness(config);
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < workload.prompts.size(); ++i) ids.push_back(harness.add(workload.prompts[i], workload.params[i]));
  harness.run_until_idle();
  std::vector<Outcome> outcomes;
  for (uint64_t id : ids) outcomes.push_back(harness.outcomes.at(id));
  if (preemptions) *preemptions = static_cast<int>(harness.metrics->preemptions.load());
  EXPECT_EQ(harness.scheduler.num_request_pages(), 0);
  return outcomes;
}

// The plain path: no prefix cache, no chunking, room for everything.
SchedulerConfig plain_config() {
  SchedulerConfig config;
  config.options.enable_radix_cache = false;
  config.options.chunked_prefill_size = -1;
  return config;
}

void expect_same_outcomes(const std::vector<Outcome>& actual, const std::vector<Outcome>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_EQ(actual[i].tokens, expected[i].tokens) << "request " << i;
    EXPECT_EQ(actual[i].logprobs, expected[i].logprobs) << "request " << i;  // bit-identical logits
    EXPECT_EQ(actual[i].reason, expected[i].reason) << "request " << i;
  }
}

TEST(Scheduler, GreedyOutputsEqualTheUncachedReference) {
  SchedulerHarness harness(SchedulerConfig{});
  std::mt19937 random(1);
  std::vector<std::pair<uint64_t, std::vector<int32_t>>> requests;
  for (size_t length : {1, 3, 4, 5, 8, 17, 40}) {
    std::vector<int32_t> prompt = random_tokens(random, length, 64);
    requests.push_back({harness.add(prompt, greedy(12)), prompt});
  }
  harness.run_until_idle();
  for (const auto& [id, prompt] : requests) {
    const Outcome& outcome = harness.outcomes.at(id);
    EXPECT_EQ(outcome.tokens, reference_greedy(prompt, 64, 12)) << "prompt of " << prompt.size();
    EXPECT_EQ(outcome.reason, FinishReason::kLength);
    EXPECT_EQ(outcome.num_final_updates, 1);
  }
}

TEST(Scheduler, PrefixCacheHitsReusePagesAndGiveTheSameLogits) {
  std::mt19937 random(2);
  const std::vector<int32_t> first = random_tokens(random, 40, 64);
  std::vector<int32_t> second(first.begin(), first.begin() + 37);
  second.push_back(5);
  second.push_back(9);

  auto run = [&](bool radix) {
    SchedulerConfig config;
    config.options.enable_radix_cache = radix;
    SchedulerHarness harness(config);
    harness.add(first, greedy(6));
    harness.run_until_idle();
    const int used_after_first = harness.scheduler.page_pool().num_used();
    const uint64_t id = harness.add(second, greedy(6));
    harness.run_until_idle();
    if (radix) {
      // First: 40 prompt + 5 output tokens with KV = 11 full pages, left in the cache. Second: shares 37
      // tokens = 9 whole pages; its 39 + 5 = 44 tokens fill 11 pages, so it adds only pages 10 and 11.
      EXPECT_EQ(used_after_first, 11);
      EXPECT_EQ(harness.scheduler.page_pool().num_used(), 11 + 2);
    } else {
      EXPECT_EQ(harness.scheduler.page_pool().num_used(), 0);
    }
    return harness.outcomes.at(id);
  };
  const Outcome cached = run(true);
  const Outcome uncached = run(false);
  EXPECT_EQ(cached.cached_tokens, 36);
  EXPECT_EQ(uncached.cached_tokens, 0);
  EXPECT_EQ(cached.tokens, uncached.tokens);
  EXPECT_EQ(cached.logprobs, uncached.logprobs);
  EXPECT_EQ(cached.tokens, reference_greedy(second, 64, 6));
}

TEST(Scheduler, ChunkedPrefillGivesTheSameOutputsAsThePlainPath) {
  const Workload workload = make_workload(30, 3);
  const std::vector<Outcome> plain = run_workload(workload, plain_config());
  for (int chunk : {1, 3, 7, 64}) {
    SchedulerConfig config;
    config.options.chunked_prefill_size = chunk;
    SCOPED_TRACE("chunked_prefill_size " + std::to_string(chunk));
    expect_same_outcomes(run_workload(workload, config), plain);
  }
}

TEST(Scheduler, PreemptionGivesTheSameOutputsAsThePlainPath) {
  const Workload workload = make_workload(40, 4);
  const std::vector<Outcome> plain = run_workload(workload, plain_config());
  for (bool radix : {true, false}) {
    SchedulerConfig config;
    config.num_pages = 24;  // 96 tokens: the largest request (65 prompt + 17 new) fits alone
    config.options.enable_radix_cache = radix;
    config.options.chunked_prefill_size = 16;
    int preemptions = 0;
    SCOPED_TRACE(radix ? "radix cache" : "no radix cache");
    expect_same_outcomes(run_workload(workload, config, &preemptions), plain);
    EXPECT_GT(preemptions, 0);
  }
}

TEST(Scheduler, RequestThatCanNeverFitGetsAClearError) {
  SchedulerConfig config;
  config.num_pages = 4;  // 16 tokens
  SchedulerHarness harness(config);
  const uint64_t too_big = harness.add(std::vector<int32_t>(10, 1), greedy(8));  // 10 + 8 - 1 = 17 > 16
  const uint64_t fits = harness.add(std::vector<int32_t>(10, 1), greedy(7));     // 16
  harness.run_until_idle();
  EXPECT_EQ(harness.outcomes.at(too_big).reason, FinishReason::kError);
  EXPECT_NE(harness.outcomes.at(too_big).error.find("17 tokens"), std::string::npos)
      << harness.outcomes.at(too_big).error;
  EXPECT_EQ(harness.outcomes.at(fits).reason, FinishReason::kLength);
  EXPECT_EQ(harness.outcomes.at(fits).tokens.size(), 7u);
}

TEST(Scheduler, InvalidRequestsFailWithTheParameterProblem) {
  SchedulerHarness harness(SchedulerConfig{});
  const uint64_t empty = harness.add({}, greedy(4));
  const uint64_t out_of_vocab = harness.add({1, 64}, greedy(4));
  SamplingParams bad = greedy(4);
  bad.top_p = 0.0f;
  const uint64_t bad_top_p = harness.add({1}, bad);
  EXPECT_EQ(harness.outcomes.at(empty).reason, FinishReason::kError);
  EXPECT_NE(harness.outcomes.at(out_of_vocab).error.find("outside the vocabulary"), std::string::npos);
  EXPECT_NE(harness.outcomes.at(bad_top_p).error.find("top_p"), std::string::npos);
  EXPECT_FALSE(harness.scheduler.has_work());
}

TEST(Scheduler, AbortFreesEverythingAtOnce) {
  for (bool radix : {true, false}) {
    SchedulerConfig config;
    config.options.enable_radix_cache = radix;
    SchedulerHarness harness(config);
    const uint64_t running = harness.add(std::vector<int32_t>(30, 2), greedy(50));
    harness.scheduler.step();
    harness.scheduler.step();
    const uint64_t queued = harness.add(std::vector<int32_t>(5, 3), greedy(5));
    EXPECT_GT(harness.scheduler.num_request_pages(), 0);
    EXPECT_TRUE(harness.scheduler.abort(running));
    EXPECT_TRUE(harness.scheduler.abort(queued));
    EXPECT_FALSE(harness.scheduler.abort(running));
    EXPECT_EQ(harness.scheduler.num_request_pages(), 0);
    EXPECT_EQ(harness.scheduler.num_running() + harness.scheduler.num_waiting(), 0);
    EXPECT_EQ(harness.outcomes.at(running).reason, FinishReason::kAbort);
    EXPECT_EQ(harness.outcomes.at(queued).reason, FinishReason::kAbort);
    EXPECT_TRUE(harness.scheduler.flush_cache());
    EXPECT_EQ(harness.scheduler.page_pool().num_used(), 0);
  }
}

TEST(Scheduler, MaxRunningRequestsAndTokenBudgetAreRespected) {
  SchedulerConfig config;
  config.options.max_running_requests = 3;
  config.options.chunked_prefill_size = 8;
  SchedulerHarness harness(config);
  std::mt19937 random(5);
  for (int i = 0; i < 10; ++i) harness.add(random_tokens(random, 20, 64), greedy(4));
  harness.run_until_idle();
  EXPECT_LE(harness.model.max_sequences_seen, 3);
  EXPECT_EQ(harness.outcomes.size(), 10u);
  for (const auto& [id, outcome] : harness.outcomes) EXPECT_EQ(outcome.tokens.size(), 4u);
}

TEST(Scheduler, GroupMembersFindTheSharedPromptInTheCache) {
  SchedulerHarness harness(SchedulerConfig{});
  std::mt19937 random(6);
  const std::vector<int32_t> prompt = random_tokens(random, 22, 64);
  std::vector<uint64_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(harness.add(prompt, seeded(6, 77 + static_cast<uint64_t>(i)), /*group=*/9));
  harness.run_until_idle();
  EXPECT_EQ(harness.outcomes.at(ids[0]).cached_tokens, 0);
  for (int i = 1; i < 4; ++i) EXPECT_EQ(harness.outcomes.at(ids[static_cast<size_t>(i)]).cached_tokens, 20);
  EXPECT_NE(harness.outcomes.at(ids[0]).tokens, harness.outcomes.at(ids[1]).tokens);  // different seeds
}

TEST(Scheduler, StopStringsAndStopTokensEndTheOutput) {
  std::mt19937 random(7);
  const std::vector<int32_t> prompt = random_tokens(random, 9, 64);
  const std::vector<int32_t> expected = reference_greedy(prompt, 64, 12);
  const std::string expected_text = letters(expected);

  SchedulerHarness harness(SchedulerConfig{});
  SamplingParams with_stop = greedy(12);
  with_stop.stop = {expected_text.substr(5, 2)};
  const uint64_t stopped = harness.add(prompt, with_stop, 0, /*with_text=*/true);
  SamplingParams with_stop_token = greedy(12);
  with_stop_token.stop_token_ids = {expected[3]};
  const uint64_t stopped_by_token = harness.add(prompt, with_stop_token, 0, true);
  SamplingParams plain = greedy(12);
  const uint64_t unstopped = harness.add(prompt, plain, 0, true);
  harness.run_until_idle();

  const Outcome& by_string = harness.outcomes.at(stopped);
  EXPECT_EQ(by_string.reason, FinishReason::kStop);
  EXPECT_EQ(by_string.matched_stop, with_stop.stop[0]);
  EXPECT_EQ(by_string.text, expected_text.substr(0, expected_text.find(with_stop.stop[0])));
  const Outcome& by_token = harness.outcomes.at(stopped_by_token);
  const size_t first = static_cast<size_t>(std::find(expected.begin(), expected.end(), expected[3]) - expected.begin());
  EXPECT_EQ(by_token.tokens, std::vector<int32_t>(expected.begin(), expected.begin() + static_cast<long>(first) + 1));
  EXPECT_EQ(by_token.matched_stop_token, expected[3]);
  EXPECT_EQ(by_token.text, expected_text.substr(0, first));  // the stop token is not text
  EXPECT_EQ(harness.outcomes.at(unstopped).text, expected_text);
  EXPECT_EQ(harness.outcomes.at(unstopped).reason, FinishReason::kLength);
}

TEST(Scheduler, EosEndsTheOutputUnlessIgnored) {
  std::mt19937 random(8);
  const std::vector<int32_t> prompt = random_tokens(random, 6, 64);
  const std::vector<int32_t> expected = reference_greedy(prompt, 64, 10);
  SchedulerConfig config;
  config.options.eos_token_ids = {expected[2]};
  SchedulerHarness harness(config);
  const uint64_t normal = harness.add(prompt, greedy(10));
  SamplingParams ignoring = greedy(10);
  ignoring.ignore_eos = true;
  const uint64_t ignored = harness.add(prompt, ignoring);
  harness.run_until_idle();
  EXPECT_EQ(harness.outcomes.at(normal).reason, FinishReason::kStop);
  EXPECT_LE(harness.outcomes.at(normal).tokens.size(), 3u);
  EXPECT_EQ(harness.outcomes.at(ignored).tokens, expected);
}

class FailingModel : public FakeModel {
 public:
  using FakeModel::FakeModel;
  Tensor forward(const ForwardBatch& batch, const DeviceSampling* sampling, bool return_logits) override {
    if (fail_next) {
      fail_next = false;
      throw Error("simulated device failure");
    }
    return FakeModel::forward(batch, sampling, return_logits);
  }
  bool fail_next = false;
};

TEST(Scheduler, AFailedForwardFailsItsBatchAndTheSchedulerCarriesOn) {
  FailingModel model(64, 4, 64, 1024);
  Scheduler scheduler(model, SchedulerOptions{});
  std::map<uint64_t, GenerationUpdate> finals;
  auto add = [&](uint64_t id) {
    auto request = std::make_unique<Request>();
    request->id = id;
    request->input.prompt = {1, 2, 3, 4, 5};
    request->input.params = greedy(3);
    request->input.on_update = [&](GenerationUpdate&& update) {
      if (update.finish_reason != FinishReason::kNone) finals[update.request_id] = update;
    };
    scheduler.add(std::move(request));
  };
  add(1);
  model.fail_next = true;
  scheduler.step();
  ASSERT_EQ(finals.count(1), 1u);
  EXPECT_EQ(finals[1].finish_reason, FinishReason::kError);
  EXPECT_NE(finals[1].error.find("simulated device failure"), std::string::npos);
  EXPECT_EQ(scheduler.num_request_pages(), 0);
  add(2);
  while (scheduler.has_work()) scheduler.step();
  EXPECT_EQ(finals[2].finish_reason, FinishReason::kLength);
  EXPECT_EQ(finals[2].completion_tokens, 3);
}

// Thousands of random requests (shared prefixes, random lengths, sampling) with random aborts on a pool
// small enough to force evictions and retractions. Every request gets exactly one final update, and once
// everything is done and the cache flushed, every page is back in the pool.
TEST(Scheduler, RandomRequestsWithRandomAbortsLeakNoPages) {
  SchedulerConfig config;
  config.num_pages = 48;
  config.page_size = 4;
  config.max_batch_tokens = 256;
  config.options.max_running_requests = 24;
  config.options.chunked_prefill_size = 32;
  SchedulerHarness harness(config);
  std::mt19937 random(9);
  std::vector<std::vector<int32_t>> prefixes;
  for (int i = 0; i < 6; ++i) prefixes.push_back(random_tokens(random, 30, 64));
  std::vector<uint64_t> live;
  int submitted = 0;
  while (submitted < 3000 || harness.scheduler.has_work()) {
    for (int k = static_cast<int>(random() % 4); k > 0 && submitted < 3000; --k, ++submitted) {
      const auto& prefix = prefixes[random() % prefixes.size()];
      std::vector<int32_t> prompt(prefix.begin(), prefix.begin() + static_cast<long>(random() % 31));
      const auto tail = random_tokens(random, 1 + random() % 12, 64);
      prompt.insert(prompt.end(), tail.begin(), tail.end());
      SamplingParams params = seeded(1 + static_cast<int>(random() % 40), random());
      live.push_back(harness.add(prompt, params, random() % 5 == 0 ? 1 + random() % 3 : 0));
    }
    if (!live.empty() && random() % 3 == 0) {
      const size_t index = random() % live.size();
      harness.scheduler.abort(live[index]);  // may already be finished: then false, no effect
      live.erase(live.begin() + static_cast<long>(index));
    }
    harness.scheduler.step();
  }
  EXPECT_EQ(harness.outcomes.size(), 3000u);
  int aborted = 0;
  for (const auto& [id, outcome] : harness.outcomes) {
    ASSERT_EQ(outcome.num_final_updates, 1) << "request " << id;
    ASSERT_NE(outcome.reason, FinishReason::kError) << outcome.error;
    aborted += outcome.reason == FinishReason::kAbort;
  }
  EXPECT_GT(aborted, 100);
  EXPECT_GT(harness.metrics->preemptions.load(), 0u);
  EXPECT_GT(harness.metrics->prefix_cache_hit_tokens.load(), 0u);
  EXPECT_EQ(harness.scheduler.num_request_pages(), 0);
  EXPECT_TRUE(harness.scheduler.flush_cache());
  EXPECT_EQ(harness.scheduler.page_pool().num_used(), 0);
  EXPECT_EQ(harness.metrics->kv_pages_free.load(), 48);
}

}  // namespace
}  // namespace dsinfer::testing
