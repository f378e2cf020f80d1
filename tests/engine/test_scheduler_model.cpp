// The scheduler on the real model (dsv3-tiny-bf16 through ModelRunner): prefix-cache hits reuse pages and
// give the same logits as computing everything; chunked prefill, small pages and preemption give the same
// outputs as the plain path; the device sampling route (ops::sample_tokens, here its CPU twin) agrees with
// the host for greedy tokens and repeats seeded ones; prompt logprobs are the full forward's.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "engine/model_runner_backend.h"
#include "engine/sampler.h"
#include "engine/scheduler.h"

namespace dsinfer {
namespace {

constexpr const char* kModel = DSINFER_TESTDATA_DIR "/fixtures/dsv3-tiny-bf16";

// Keeps a copy of every logits row, per forward, so that tests can compare whole rows.
class RecordingBackend : public ModelBackend {
 public:
  explicit RecordingBackend(std::unique_ptr<ModelBackend> inner) : inner_(std::move(inner)) {}
  int64_t vocab_size() const override { return inner_->vocab_size(); }
  int page_size() const override { return inner_->page_size(); }
  int num_kv_pages() const override { return inner_->num_kv_pages(); }
  int max_batch_tokens() const override { return inner_->max_batch_tokens(); }
  bool samples_on_device() const override { return inner_->samples_on_device(); }
  Tensor forward(const ForwardBatch& batch, const DeviceSampling* sampling, bool return_logits) override {
    Tensor logits = inner_->forward(batch, sampling, return_logits);
    if (!return_logits) return logits;
    const float* data = logits.data_as<float>();
    for (int64_t row = 0; row < logits.dim(0); ++row)
      rows.emplace_back(data + row * logits.dim(1), data + (row + 1) * logits.dim(1));
    return logits;
  }
  std::vector<std::vector<float>> rows;

 private:
  std::unique_ptr<ModelBackend> inner_;
};

std::unique_ptr<RecordingBackend> make_model(int page_size, int num_pages, bool sample_on_device = false) {
  ModelRunnerOptions options;
  options.model_dir = kModel;
  options.page_size = page_size;
  options.num_kv_pages = num_pages;
  options.max_batch_tokens = 512;
  return std::make_unique<RecordingBackend>(
      std::make_unique<ModelRunnerBackend>(ModelRunner::create(options), options.max_batch_tokens, sample_on_device));
}

struct Result {
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;
  std::vector<GeneratedToken> prompt_logprobs;
  int cached_tokens = 0;
};

// Runs the prompts (all submitted at once) to completion.
std::vector<Result> run(ModelBackend& model, SchedulerOptions options, const std::vector<std::vector<int32_t>>& prompts,
                        const std::vector<SamplingParams>& params, int* preemptions = nullptr) {
  EngineMetrics metrics;
  Scheduler scheduler(model, options, &metrics);
  std::map<uint64_t, Result> results;
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto request = std::make_unique<Request>();
    request->id = i + 1;
    request->input.prompt = prompts[i];
    request->input.params = params[i];
    request->input.on_update = [&results](GenerationUpdate&& update) {
      Result& result = results[update.request_id];
      for (auto& token : update.prompt_logprobs) result.prompt_logprobs.push_back(std::move(token));
      for (const auto& token : update.tokens) {
        result.tokens.push_back(token.token_id);
        result.logprobs.push_back(token.logprob);
      }
      result.cached_tokens = update.cached_tokens;
      if (update.finish_reason == FinishReason::kError) ADD_FAILURE() << update.error;
    };
    scheduler.add(std::move(request));
  }
  while (scheduler.has_work()) scheduler.step();
  EXPECT_EQ(scheduler.num_request_pages(), 0);
  if (preemptions) *preemptions = static_cast<int>(metrics.preemptions.load());
  std::vector<Result> ordered;
  for (size_t i = 0; i < prompts.size(); ++i) ordered.push_back(results[i + 1]);
  return ordered;
}

SamplingParams params_for(int index) {
  SamplingParams params;
  params.max_new_tokens = 6 + index % 5;
  params.logprobs = true;
  if (index % 2 == 0) {
    params.temperature = 0.0f;
  } else {
    params.temperature = 0.8f;
    params.seed = 100 + static_cast<uint64_t>(index);
  }
  return params;
}

std::vector<int32_t> prompt_for(int index) {
  // Shared heads of different lengths, then a tail of its own.
  std::vector<int32_t> prompt;
  for (int i = 0; i < 9 + (index * 7) % 23; ++i) prompt.push_back((i * 37 + 11) % 512);
  for (int i = 0; i < 1 + index % 4; ++i) prompt.push_back((index * 101 + i * 13) % 512);
  return prompt;
}

void expect_close(const std::vector<Result>& actual, const std::vector<Result>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_EQ(actual[i].tokens, expected[i].tokens) << "request " << i;
    ASSERT_EQ(actual[i].logprobs.size(), expected[i].logprobs.size());
    for (size_t k = 0; k < actual[i].logprobs.size(); ++k)
      EXPECT_NEAR(actual[i].logprobs[k], expected[i].logprobs[k], 1e-4) << "request " << i << " token " << k;
  }
}

struct SecondRequest {
  Result result;
  std::vector<std::vector<float>> logits;  // one row per generated token
  int cached_pages = 0;
};

// Runs `first` to completion, then `second`, in one scheduler (so the second may hit the first's pages).
SecondRequest run_one_after_another(bool radix, const std::vector<int32_t>& first, const std::vector<int32_t>& second,
                                    const SamplingParams& params) {
  auto model = make_model(/*page_size=*/4, /*num_pages=*/64);
  SchedulerOptions options;
  options.enable_radix_cache = radix;
  Scheduler scheduler(*model, options);
  SecondRequest outcome;
  for (uint64_t id : {1, 2}) {
    auto request = std::make_unique<Request>();
    request->id = id;
    request->input.prompt = id == 1 ? first : second;
    request->input.params = params;
    request->input.on_update = [&outcome, id](GenerationUpdate&& update) {
      if (id != 2) return;
      for (const auto& token : update.tokens) outcome.result.tokens.push_back(token.token_id);
      outcome.result.cached_tokens = update.cached_tokens;
    };
    const size_t rows_before = model->rows.size();
    scheduler.add(std::move(request));
    while (scheduler.has_work()) scheduler.step();
    // One request at a time: every forward has one row, and the second request's are the last ones.
    if (id == 2) outcome.logits.assign(model->rows.begin() + static_cast<long>(rows_before), model->rows.end());
  }
  outcome.cached_pages = scheduler.num_cached_pages();
  return outcome;
}

TEST(SchedulerOnTheModel, PrefixCacheHitsGiveTheSameLogitsAsComputingEverything) {
  const std::vector<int32_t> first = prompt_for(3);
  std::vector<int32_t> second(first.begin(), first.begin() + 17);
  second.push_back(7);
  second.push_back(300);
  const SamplingParams greedy = params_for(0);

  const SecondRequest cached = run_one_after_another(true, first, second, greedy);
  const SecondRequest uncached = run_one_after_another(false, first, second, greedy);
  EXPECT_EQ(cached.result.cached_tokens, 16);  // 17 shared tokens: 4 whole pages of 4
  EXPECT_GT(cached.cached_pages, 0);
  EXPECT_EQ(uncached.result.cached_tokens, 0);
  EXPECT_EQ(uncached.cached_pages, 0);
  EXPECT_EQ(cached.result.tokens, uncached.result.tokens);
  ASSERT_EQ(cached.logits.size(), static_cast<size_t>(greedy.max_new_tokens));
  ASSERT_EQ(cached.logits.size(), uncached.logits.size());
  for (size_t step = 0; step < cached.logits.size(); ++step) {
    double difference = 0.0, norm = 0.0;
    for (size_t v = 0; v < cached.logits[step].size(); ++v) {
      difference += std::pow(cached.logits[step][v] - uncached.logits[step][v], 2);
      norm += std::pow(uncached.logits[step][v], 2);
    }
    EXPECT_LE(std::sqrt(difference / norm), 1e-5) << "step " << step;  // float32 compute: rounding only
  }
}

TEST(SchedulerOnTheModel, ChunkedPrefillSmallPagesAndPreemptionMatchThePlainPath) {
  std::vector<std::vector<int32_t>> prompts;
  std::vector<SamplingParams> params;
  for (int i = 0; i < 12; ++i) {
    prompts.push_back(prompt_for(i));
    params.push_back(params_for(i));
  }
  SchedulerOptions plain_options;
  plain_options.enable_radix_cache = false;
  plain_options.chunked_prefill_size = -1;
  auto plain_model = make_model(64, 64);
  const std::vector<Result> plain = run(*plain_model, plain_options, prompts, params);

  for (int chunk : {1, 5}) {
    SCOPED_TRACE("chunked_prefill_size " + std::to_string(chunk));
    auto model = make_model(4, 256);
    SchedulerOptions options;
    options.chunked_prefill_size = chunk;
    expect_close(run(*model, options, prompts, params), plain);
  }
  {
    SCOPED_TRACE("preemption");
    auto model = make_model(4, 12);  // 48 tokens: the largest request (35 + 10) fits alone, few fit together
    SchedulerOptions options;
    options.chunked_prefill_size = 8;
    int preemptions = 0;
    expect_close(run(*model, options, prompts, params, &preemptions), plain);
    EXPECT_GT(preemptions, 0);
  }
}

TEST(SchedulerOnTheModel, TheDeviceRouteAgreesWithTheHostOnGreedyTokensAndRepeatsSeededOnes) {
  std::vector<std::vector<int32_t>> prompts;
  std::vector<SamplingParams> params;
  for (int i = 0; i < 8; ++i) {
    prompts.push_back(prompt_for(i));
    SamplingParams sampling = params_for(i);
    sampling.logprobs = false;  // else the token needs the host route
    sampling.top_k = 40;
    params.push_back(sampling);
  }
  SchedulerOptions options;
  options.chunked_prefill_size = 16;
  auto host_model = make_model(4, 256);
  const std::vector<Result> host = run(*host_model, options, prompts, params);
  auto device_model = make_model(4, 256, /*sample_on_device=*/true);
  const std::vector<Result> device = run(*device_model, options, prompts, params);
  EXPECT_TRUE(device_model->rows.empty());  // no logits came back: every token was drawn on the "device"
  for (size_t i = 0; i < prompts.size(); ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    ASSERT_EQ(device[i].tokens.size(), static_cast<size_t>(params[i].max_new_tokens));
    if (params[i].temperature == 0.0f) {
      EXPECT_EQ(device[i].tokens, host[i].tokens);
    } else {
      // The same seeded request alone, next to a request that needs the host route: the same tokens.
      SamplingParams penalized = params_for(0);
      penalized.presence_penalty = 1.0f;
      auto mixed_model = make_model(4, 256, /*sample_on_device=*/true);
      const std::vector<Result> mixed = run(*mixed_model, options, {prompts[i], prompts[0]}, {params[i], penalized});
      EXPECT_EQ(mixed[0].tokens, device[i].tokens);
      EXPECT_FALSE(mixed_model->rows.empty());
    }
  }
}

TEST(SchedulerOnTheModel, PromptLogprobsAreThoseOfOneFullForward) {
  const std::vector<int32_t> prompt = prompt_for(6);
  // Reference: every position's logits from one forward of the whole prompt.
  ModelRunnerOptions runner_options;
  runner_options.model_dir = kModel;
  runner_options.page_size = 64;
  runner_options.num_kv_pages = 4;
  auto runner = ModelRunner::create(runner_options);
  ForwardBatch batch;
  batch.token_ids = prompt;
  batch.sequences.push_back(SequenceSlice{0, static_cast<int32_t>(prompt.size()), {0}, /*all_logits=*/true});
  const Tensor logits = runner->forward(batch);
  const int64_t vocab = logits.dim(1);

  SamplingParams params = params_for(0);
  params.top_logprobs = 3;
  params.prompt_logprobs = true;
  for (int chunk : {-1, 5}) {
    SCOPED_TRACE("chunked_prefill_size " + std::to_string(chunk));
    SchedulerOptions options;
    options.chunked_prefill_size = chunk;
    auto model = make_model(4, 64);
    // Next to a request with the same prompt (whose pages it could share), it must still score every position.
    const std::vector<Result> results = run(*model, options, {prompt, prompt}, {params_for(0), params});
    const std::vector<GeneratedToken>& scored = results[1].prompt_logprobs;
    ASSERT_EQ(scored.size(), prompt.size() - 1);
    EXPECT_TRUE(results[0].prompt_logprobs.empty());
    for (size_t j = 1; j < prompt.size(); ++j) {
      std::span<const float> row(logits.data_as<float>() + static_cast<int64_t>(j - 1) * vocab, static_cast<size_t>(vocab));
      const GeneratedToken expected = score_token(row, prompt[j], 3);
      EXPECT_EQ(scored[j - 1].token_id, prompt[j]);
      EXPECT_NEAR(scored[j - 1].logprob, expected.logprob, 1e-4) << "prompt token " << j;
      ASSERT_EQ(scored[j - 1].top_logprobs.size(), 3u);
      EXPECT_EQ(scored[j - 1].top_logprobs[0].token_id, expected.top_logprobs[0].token_id) << "prompt token " << j;
    }
  }
}

}  // namespace
}  // namespace dsinfer
