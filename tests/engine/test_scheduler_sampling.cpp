// The sampler's two routes through the scheduler (fake model acting as a GPU backend: its "device" draws
// token seed % vocab, so a device-drawn token is predictable from the request's RNG), and prompt logprobs
// (completions echo): every prompt token scored once, in order, whatever the chunking, cache or preemption.
#include <gtest/gtest.h>

#include <random>

#include "engine/sampler.h"
#include "engine/scheduler_harness.h"

namespace dsinfer::testing {
namespace {

constexpr int64_t kVocab = 64;

std::vector<int32_t> random_tokens(std::mt19937& random, size_t length) {
  std::vector<int32_t> tokens(length);
  for (auto& token : tokens) token = static_cast<int32_t>(random() % kVocab);
  return tokens;
}

SamplingParams plain_greedy(int max_new_tokens) {
  SamplingParams params;
  params.temperature = 0.0f;
  params.max_new_tokens = max_new_tokens;
  return params;
}

SamplingParams plain_seeded(int max_new_tokens, uint64_t seed) {
  SamplingParams params;
  params.temperature = 0.8f;
  params.top_p = 0.9f;
  params.top_k = 20;
  params.seed = seed;
  params.max_new_tokens = max_new_tokens;
  return params;
}

// The fake device's draws for a seeded request that stays on the device route throughout.
std::vector<int32_t> predicted_device_draws(uint64_t seed, int count) {
  Rng rng(seed);
  std::vector<int32_t> tokens;
  for (int i = 0; i < count; ++i) tokens.push_back(static_cast<int32_t>(rng.next() % kVocab));
  return tokens;
}

SchedulerConfig device_config() {
  SchedulerConfig config;
  config.device_sampling = true;
  return config;
}

TEST(DeviceRoute, EligibleTokensAreDrawnOnTheDeviceAndNoLogitsComeBack) {
  SchedulerHarness harness(device_config());
  std::mt19937 random(11);
  const std::vector<int32_t> prompt = random_tokens(random, 13);
  const uint64_t greedy = harness.add(prompt, plain_greedy(9));
  const uint64_t seeded = harness.add(random_tokens(random, 6), plain_seeded(9, 5));
  harness.run_until_idle();
  EXPECT_EQ(harness.outcomes.at(greedy).tokens, reference_greedy(prompt, kVocab, 9));
  EXPECT_EQ(harness.outcomes.at(seeded).tokens, predicted_device_draws(5, 9));
  EXPECT_GT(harness.model.device_sampling_calls, 0);
  EXPECT_EQ(harness.model.logits_calls, 0);  // only ids crossed to the host
}

TEST(DeviceRoute, TokensThatNeedMoreAreSampledOnTheHostByTheHostRule) {
  std::mt19937 random(12);
  const std::vector<int32_t> prompt = random_tokens(random, 10);
  std::vector<SamplingParams> host_only;
  for (int kind = 0; kind < 6; ++kind) {
    SamplingParams params = plain_seeded(8, 40 + static_cast<uint64_t>(kind));
    switch (kind) {
      case 0: params.presence_penalty = 0.5f; break;
      case 1: params.repetition_penalty = 1.3f; break;
      case 2: params.logit_bias = {{3, 2.0f}}; break;
      case 3: params.min_p = 0.1f; break;
      case 4: params.logprobs = true; break;
      case 5: params.frequency_penalty = -0.5f; params.temperature = 0.0f; break;
    }
    host_only.push_back(params);
  }
  for (const SamplingParams& params : host_only) {
    SchedulerHarness host(SchedulerConfig{});
    const uint64_t alone = host.add(prompt, params);
    host.run_until_idle();
    SchedulerHarness device(device_config());
    const uint64_t with_device = device.add(prompt, params);
    const uint64_t neighbour = device.add(random_tokens(random, 7), plain_seeded(8, 3));
    device.run_until_idle();
    EXPECT_EQ(device.outcomes.at(with_device).tokens, host.outcomes.at(alone).tokens);
    EXPECT_EQ(device.outcomes.at(with_device).logprobs, host.outcomes.at(alone).logprobs);
    EXPECT_EQ(device.outcomes.at(neighbour).tokens, predicted_device_draws(3, 8));
    EXPECT_GT(device.model.logits_calls, 0);
  }
}

TEST(DeviceRoute, MinTokensKeepsTheHostRouteOnlyWhileTheMaskApplies) {
  SamplingParams params = plain_seeded(10, 21);
  params.min_new_tokens = 4;
  std::mt19937 random(13);
  const std::vector<int32_t> prompt = random_tokens(random, 8);
  SchedulerHarness harness(device_config());
  const uint64_t id = harness.add(prompt, params);
  harness.run_until_idle();
  const std::vector<int32_t>& tokens = harness.outcomes.at(id).tokens;
  ASSERT_EQ(tokens.size(), 10u);
  // The first four came from the host rule (one RNG draw each), the rest from the device with the next draws.
  Rng rng(21);
  for (int i = 0; i < 4; ++i) rng.next();
  for (size_t i = 4; i < tokens.size(); ++i) EXPECT_EQ(tokens[i], static_cast<int32_t>(rng.next() % kVocab)) << i;
  EXPECT_EQ(harness.model.logits_calls, 4);
}

TEST(DeviceRoute, ASeededRequestRepeatsWhateverItIsBatchedWith) {
  std::mt19937 random(14);
  const std::vector<int32_t> prompt = random_tokens(random, 21);
  SamplingParams params = plain_seeded(12, 99);
  params.min_new_tokens = 2;
  auto run = [&](int neighbours) {
    SchedulerConfig config = device_config();
    config.options.chunked_prefill_size = 8;
    SchedulerHarness harness(config);
    std::mt19937 others(15);
    for (int i = 0; i < neighbours; ++i) {
      SamplingParams other = plain_seeded(3 + i % 7, 500 + static_cast<uint64_t>(i));
      if (i % 3 == 0) other.presence_penalty = 1.0f;
      if (i % 4 == 0) other.logprobs = true;
      harness.add(random_tokens(others, 1 + static_cast<size_t>(i) * 3), other);
    }
    const uint64_t id = harness.add(prompt, params);
    harness.run_until_idle();
    return harness.outcomes.at(id).tokens;
  };
  const std::vector<int32_t> alone = run(0);
  EXPECT_EQ(alone.size(), 12u);
  for (int neighbours : {1, 5, 17}) EXPECT_EQ(run(neighbours), alone) << neighbours << " neighbours";
}

// What the prompt logprobs of `prompt` must be: the raw log-softmax of each token under its prefix.
std::vector<GeneratedToken> reference_prompt_logprobs(const std::vector<int32_t>& prompt, int top_logprobs) {
  std::vector<GeneratedToken> expected;
  std::vector<float> row(static_cast<size_t>(kVocab));
  for (size_t j = 1; j < prompt.size(); ++j) {
    FakeModel::fill_logits(FakeModel::chain(prompt, j), kVocab, row.data());
    expected.push_back(score_token(row, prompt[j], top_logprobs));
  }
  return expected;
}

void expect_prompt_logprobs(const Outcome& outcome, const std::vector<int32_t>& prompt, int top_logprobs) {
  const std::vector<GeneratedToken> expected = reference_prompt_logprobs(prompt, top_logprobs);
  ASSERT_EQ(outcome.prompt_logprobs.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(outcome.prompt_logprobs[i].token_id, prompt[i + 1]);
    EXPECT_EQ(outcome.prompt_logprobs[i].logprob, expected[i].logprob) << "prompt token " << i + 1;
    ASSERT_EQ(outcome.prompt_logprobs[i].top_logprobs.size(), static_cast<size_t>(top_logprobs));
    for (int k = 0; k < top_logprobs; ++k) {
      EXPECT_EQ(outcome.prompt_logprobs[i].top_logprobs[k].token_id, expected[i].top_logprobs[k].token_id);
      EXPECT_EQ(outcome.prompt_logprobs[i].top_logprobs[k].logprob, expected[i].top_logprobs[k].logprob);
    }
  }
  EXPECT_FALSE(outcome.prompt_logprobs_after_tokens);
}

SamplingParams with_prompt_logprobs(SamplingParams params, int top_logprobs) {
  params.logprobs = true;
  params.top_logprobs = top_logprobs;
  params.prompt_logprobs = true;
  return params;
}

TEST(PromptLogprobs, EveryPromptTokenIsScoredWhateverTheChunkingOrTheCache) {
  std::mt19937 random(16);
  const std::vector<int32_t> prompt = random_tokens(random, 37);
  for (int chunk : {-1, 1, 5, 16}) {
    for (bool device : {false, true}) {
      SCOPED_TRACE("chunked_prefill_size " + std::to_string(chunk) + (device ? ", device backend" : ""));
      SchedulerConfig config;
      config.options.chunked_prefill_size = chunk;
      config.device_sampling = device;
      SchedulerHarness harness(config);
      // The same prompt already cached: scoring must still compute every position.
      harness.add(prompt, plain_greedy(3));
      harness.run_until_idle();
      const uint64_t id = harness.add(prompt, with_prompt_logprobs(plain_greedy(5), 3));
      harness.run_until_idle();
      const Outcome& outcome = harness.outcomes.at(id);
      expect_prompt_logprobs(outcome, prompt, 3);
      EXPECT_EQ(outcome.cached_tokens, 0);
      EXPECT_EQ(outcome.tokens, reference_greedy(prompt, kVocab, 5));
    }
  }
}

TEST(PromptLogprobs, AOneTokenPromptHasNothingToScore) {
  SchedulerHarness harness(SchedulerConfig{});
  const uint64_t id = harness.add({7}, with_prompt_logprobs(plain_greedy(2), 1));
  harness.run_until_idle();
  EXPECT_TRUE(harness.outcomes.at(id).prompt_logprobs.empty());
  EXPECT_EQ(harness.outcomes.at(id).tokens, reference_greedy({7}, kVocab, 2));
}

TEST(PromptLogprobs, ChunksStayWithinTheLogitsRowLimit) {
  std::mt19937 random(17);
  const std::vector<int32_t> prompt = random_tokens(random, 3 * kPromptLogprobChunkTokens + 5);
  SchedulerConfig config;
  config.options.chunked_prefill_size = -1;
  SchedulerHarness harness(config);
  const uint64_t id = harness.add(prompt, with_prompt_logprobs(plain_greedy(2), 0));
  harness.run_until_idle();
  EXPECT_EQ(harness.outcomes.at(id).prompt_logprobs.size(), prompt.size() - 1);
  EXPECT_LE(harness.model.max_logit_rows_seen, kPromptLogprobChunkTokens);
}

TEST(PromptLogprobs, PreemptionNeitherRepeatsNorSkipsAPromptToken) {
  std::mt19937 random(18);
  std::vector<std::vector<int32_t>> prompts;
  const std::vector<int32_t> shared = random_tokens(random, 24);
  for (int i = 0; i < 12; ++i) {
    std::vector<int32_t> prompt(shared.begin(), shared.begin() + static_cast<long>(random() % 25));
    const std::vector<int32_t> tail = random_tokens(random, 20 + random() % 30);
    prompt.insert(prompt.end(), tail.begin(), tail.end());
    prompts.push_back(prompt);
  }
  for (bool radix : {true, false}) {
    SCOPED_TRACE(radix ? "radix cache" : "no radix cache");
    SchedulerConfig config;
    config.num_pages = 26;  // 104 tokens: the largest request (73 prompt + 30 new - 1) fits alone
    config.options.enable_radix_cache = radix;
    config.options.chunked_prefill_size = 4;  // long prefills next to decodes: two are retracted mid-prompt
    SchedulerHarness harness(config);
    std::vector<uint64_t> ids;
    for (size_t i = 0; i < prompts.size(); ++i)
      ids.push_back(harness.add(prompts[i], with_prompt_logprobs(plain_greedy(30), 2)));
    harness.run_until_idle();
    EXPECT_GT(harness.metrics->preemptions.load(), 0u);
    for (size_t i = 0; i < prompts.size(); ++i) {
      SCOPED_TRACE("request " + std::to_string(i));
      expect_prompt_logprobs(harness.outcomes.at(ids[i]), prompts[i], 2);
      EXPECT_EQ(harness.outcomes.at(ids[i]).tokens, reference_greedy(prompts[i], kVocab, 30));
    }
    EXPECT_EQ(harness.scheduler.num_request_pages(), 0);
  }
}

}  // namespace
}  // namespace dsinfer::testing
