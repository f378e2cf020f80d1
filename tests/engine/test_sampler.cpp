// The sampler against direct computations: greedy, each filter, penalties, logprobs, seeds, and the
// empirical distribution of many draws against the softmax it should follow.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "engine/sampler.h"

namespace dsinfer {
namespace {

struct Fixture {
  SamplingParams params;
  std::vector<int32_t> prompt;
  std::unordered_map<int32_t, int32_t> counts;
  std::vector<int32_t> eos = {0};
  int num_output = 0;
  Rng rng{42};

  GeneratedToken sample(std::vector<float> logits) {
    SamplerInput input{params, prompt, counts, num_output, eos, rng};
    return sample_token(logits, input);
  }
};

TEST(Sampler, GreedyTakesTheArgmaxLowestIdOnTies) {
  Fixture fixture;
  fixture.params.temperature = 0.0f;
  EXPECT_EQ(fixture.sample({0.1f, 3.0f, 2.0f, 3.0f}).token_id, 1);
}

TEST(Sampler, TopKOneAndTinyTopPAreGreedy) {
  Fixture fixture;
  fixture.params.top_k = 1;
  for (int i = 0; i < 50; ++i) EXPECT_EQ(fixture.sample({0.5f, 0.4f, 0.6f, 0.1f}).token_id, 2);
  fixture.params.top_k = -1;
  fixture.params.top_p = 1e-6f;
  for (int i = 0; i < 50; ++i) EXPECT_EQ(fixture.sample({0.5f, 0.4f, 0.6f, 0.1f}).token_id, 2);
}

TEST(Sampler, LogitBiasAndPenalties) {
  Fixture fixture;
  fixture.params.temperature = 0.0f;
  fixture.params.logit_bias = {{3, 100.0f}};
  EXPECT_EQ(fixture.sample({5.0f, 1.0f, 1.0f, -50.0f}).token_id, 3);

  fixture.params.logit_bias.clear();
  fixture.params.presence_penalty = 2.0f;
  fixture.counts = {{1, 1}};
  EXPECT_EQ(fixture.sample({0.0f, 2.0f, 1.0f}).token_id, 2);  // 2 - 2 = 0 < 1
  fixture.params.presence_penalty = 0.0f;
  fixture.params.frequency_penalty = 0.5f;
  fixture.counts = {{1, 3}};
  EXPECT_EQ(fixture.sample({0.0f, 2.0f, 1.0f}).token_id, 2);  // 2 - 1.5 = 0.5 < 1
  fixture.params.frequency_penalty = 0.0f;

  // Repetition penalty divides positive logits of seen tokens (prompt included) and multiplies negative ones.
  fixture.params.repetition_penalty = 2.0f;
  fixture.counts.clear();
  fixture.prompt = {1};
  EXPECT_EQ(fixture.sample({0.0f, 3.0f, 2.0f}).token_id, 2);   // 3 / 2 = 1.5 < 2
  fixture.prompt = {2};
  EXPECT_EQ(fixture.sample({-1.0f, -1.5f, -0.9f}).token_id, 0);  // -0.9 * 2 = -1.8
}

TEST(Sampler, MinTokensMasksEosAndStopTokens) {
  Fixture fixture;
  fixture.params.temperature = 0.0f;
  fixture.params.min_new_tokens = 2;
  fixture.params.stop_token_ids = {1};
  fixture.num_output = 1;
  EXPECT_EQ(fixture.sample({9.0f, 8.0f, 1.0f}).token_id, 2);
  fixture.num_output = 2;
  EXPECT_EQ(fixture.sample({9.0f, 8.0f, 1.0f}).token_id, 0);
}

TEST(Sampler, LogprobsAreRawLogSoftmax) {
  Fixture fixture;
  fixture.params.temperature = 0.0f;
  fixture.params.logprobs = true;
  fixture.params.top_logprobs = 2;
  fixture.params.logit_bias = {{2, 10.0f}};  // changes the choice, not the reported raw logprobs
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 0.5f};
  double sum = 0.0;
  for (float value : logits) sum += std::exp(value);
  GeneratedToken token = fixture.sample(logits);
  EXPECT_EQ(token.token_id, 2);
  EXPECT_NEAR(token.logprob, 2.0 - std::log(sum), 1e-6);
  ASSERT_EQ(token.top_logprobs.size(), 2u);
  EXPECT_EQ(token.top_logprobs[0].token_id, 1);
  EXPECT_NEAR(token.top_logprobs[0].logprob, 3.0 - std::log(sum), 1e-6);
  EXPECT_EQ(token.top_logprobs[1].token_id, 2);
}

TEST(Sampler, SameSeedSameDraws) {
  std::vector<float> logits(1000);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(std::sin(static_cast<double>(i)));
  auto draws = [&](uint64_t seed) {
    Fixture fixture;
    fixture.rng = Rng(seed);
    fixture.params.top_p = 0.9f;
    std::vector<int32_t> result;
    for (int i = 0; i < 32; ++i) result.push_back(fixture.sample(logits).token_id);
    return result;
  };
  EXPECT_EQ(draws(5), draws(5));
  EXPECT_NE(draws(5), draws(6));
}

// Draw frequencies follow softmax(logits / T) restricted to the filter's support.
void expect_distribution(SamplingParams params, const std::vector<float>& logits, const std::vector<double>& expected) {
  Fixture fixture;
  fixture.params = params;
  constexpr int kDraws = 40000;
  std::vector<int> counts(logits.size(), 0);
  for (int i = 0; i < kDraws; ++i) ++counts[static_cast<size_t>(fixture.sample(logits).token_id)];
  for (size_t token = 0; token < logits.size(); ++token) {
    const double frequency = static_cast<double>(counts[token]) / kDraws;
    // Five standard deviations of a binomial proportion (and exact zeros outside the support).
    const double tolerance = 5.0 * std::sqrt(expected[token] * (1.0 - expected[token]) / kDraws) + 1e-12;
    EXPECT_NEAR(frequency, expected[token], tolerance) << "token " << token;
  }
}

std::vector<double> softmax(const std::vector<float>& logits, float temperature, const std::vector<bool>& keep) {
  std::vector<double> result(logits.size(), 0.0);
  double total = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (keep[i]) total += result[i] = std::exp(logits[i] / temperature);
  }
  for (auto& value : result) value /= total;
  return result;
}

TEST(Sampler, DrawsFollowTheFilteredSoftmax) {
  const std::vector<float> logits = {1.0f, 2.0f, 0.5f, 1.5f, -1.0f};
  SamplingParams params;
  params.temperature = 0.7f;
  expect_distribution(params, logits, softmax(logits, 0.7f, {true, true, true, true, true}));

  params.top_k = 2;  // tokens 1 and 3
  expect_distribution(params, logits, softmax(logits, 0.7f, {false, true, false, true, false}));

  // top_p 0.8 at T = 1: probabilities of tokens 1, 3, 0 are 0.445, 0.270, 0.164: the three reach 0.8.
  params = SamplingParams{};
  params.top_p = 0.8f;
  expect_distribution(params, logits, softmax(logits, 1.0f, {true, true, false, true, false}));

  // min_p 0.3: keep tokens whose probability is >= 0.3 * the best (logit >= 2 + ln 0.3 = 0.796).
  params = SamplingParams{};
  params.min_p = 0.3f;
  expect_distribution(params, logits, softmax(logits, 1.0f, {true, true, false, true, false}));
}

}  // namespace
}  // namespace dsinfer

namespace dsinfer {
namespace {

// The top_p set found by selection (no full sort) equals the one a full sort gives, on a large vocabulary
// and on exact ties (broken towards lower ids).
TEST(Sampler, TopPSelectionMatchesASortedReference) {
  std::vector<float> logits(20000);
  Rng values(11);
  for (auto& value : logits) value = static_cast<float>(values.uniform() * 4.0);
  std::vector<int32_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  double total = 0.0;
  for (float value : logits) total += std::exp(value - logits[order[0]]);
  std::vector<bool> in_set(logits.size(), false);
  double mass = 0.0;
  for (int32_t token : order) {
    if (mass >= 0.3 * total) break;
    mass += std::exp(logits[token] - logits[order[0]]);
    in_set[static_cast<size_t>(token)] = true;
  }
  SamplingParams params;
  params.top_p = 0.3f;
  Rng rng(5);
  std::unordered_map<int32_t, int32_t> counts;
  for (int draw = 0; draw < 3000; ++draw) {
    std::vector<float> row = logits;
    SamplerInput input{params, {}, counts, 0, {}, rng};
    const int32_t token = sample_token(row, input).token_id;
    ASSERT_TRUE(in_set[static_cast<size_t>(token)]) << "token " << token << " is outside the top_p set";
  }

  // Ten equal logits, top_p 0.5: exactly tokens 0..4, each about equally often.
  std::vector<int> seen(10, 0);
  params.top_p = 0.5f;
  for (int draw = 0; draw < 2000; ++draw) {
    std::vector<float> row(10, 1.0f);
    SamplerInput input{params, {}, counts, 0, {}, rng};
    ++seen[static_cast<size_t>(sample_token(row, input).token_id)];
  }
  for (int token = 0; token < 5; ++token) EXPECT_GT(seen[static_cast<size_t>(token)], 300);
  for (int token = 5; token < 10; ++token) EXPECT_EQ(seen[static_cast<size_t>(token)], 0);
}

}  // namespace
}  // namespace dsinfer

namespace dsinfer {
namespace {

TEST(Sampler, GreedyOnLongRowsFindsTheFirstMaximumWhereverItIs) {
  Rng random(3);
  std::unordered_map<int32_t, int32_t> counts;
  SamplingParams params;
  params.temperature = 0.0f;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> row(1000 + static_cast<size_t>(random.next() % 50));
    for (auto& value : row) value = static_cast<float>(random.uniform());
    const size_t first = random.next() % row.size();
    const size_t second = first + random.next() % (row.size() - first);
    row[first] = row[second] = 2.0f;  // a tie: the lower id wins, in any lane or in the tail
    const size_t not_a_number = random.next() % row.size();
    if (trial % 7 == 0 && not_a_number != first && not_a_number != second) row[not_a_number] = std::nanf("");
    SamplerInput input{params, {}, counts, 0, {}, random};
    ASSERT_EQ(sample_token(row, input).token_id, static_cast<int32_t>(first));
  }
}

}  // namespace
}  // namespace dsinfer
