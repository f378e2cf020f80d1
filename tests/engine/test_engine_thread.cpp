// The engine thread: requests submitted from several threads at once all complete with the reference
// output; an abort from another thread takes effect within a step; flush and stop behave as documented;
// forwards failing in a row and a hung step turn the engine unhealthy.
#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "engine/engine.h"
#include "engine/scheduler_harness.h"

namespace dsinfer::testing {
namespace {

class Collector {
 public:
  std::function<void(GenerationUpdate&&)> callback() {
    return [this](GenerationUpdate&& update) {
      std::lock_guard lock(mutex_);
      Outcome& outcome = outcomes_[update.request_id];
      for (const auto& token : update.tokens) outcome.tokens.push_back(token.token_id);
      if (update.finish_reason != FinishReason::kNone) {
        outcome.reason = update.finish_reason;
        outcome.error = update.error;
        ++outcome.num_final_updates;
        ++finished_;
      }
      changed_.notify_all();
    };
  }
  bool wait_for_finished(size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(30), [&] { return finished_ >= count; });
  }
  bool wait_for_tokens(uint64_t id, size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(30), [&] { return outcomes_[id].tokens.size() >= count; });
  }
  Outcome outcome(uint64_t id) {
    std::lock_guard lock(mutex_);
    return outcomes_[id];
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<uint64_t, Outcome> outcomes_;
  size_t finished_ = 0;
};

// A fake model slow enough that a request is still running when the test acts on it.
class SlowModel : public FakeModel {
 public:
  using FakeModel::FakeModel;
  Tensor forward(const ForwardBatch& batch, const DeviceSampling* sampling, bool return_logits) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return FakeModel::forward(batch, sampling, return_logits);
  }
};

GenerationRequest make_request(std::vector<int32_t> prompt, int max_new_tokens, Collector& collector) {
  GenerationRequest request;
  request.prompt = std::move(prompt);
  request.params.temperature = 0.0f;
  request.params.max_new_tokens = max_new_tokens;
  request.on_update = collector.callback();
  return request;
}

TEST(EngineThread, ConcurrentSubmissionsAllCompleteWithTheReferenceOutput) {
  Engine engine(std::make_unique<FakeModel>(64, 4, 256, 1024), SchedulerOptions{});
  Collector collector;
  std::vector<std::thread> submitters;
  std::mutex ids_mutex;
  std::map<uint64_t, std::vector<int32_t>> prompts;
  for (int thread = 0; thread < 4; ++thread) {
    submitters.emplace_back([&, thread] {
      for (int i = 0; i < 50; ++i) {
        std::vector<int32_t> prompt = {thread, i % 64, (thread * i) % 64};
        const uint64_t id = engine.submit(make_request(prompt, 5, collector));
        std::lock_guard lock(ids_mutex);
        prompts[id] = prompt;
      }
    });
  }
  for (auto& submitter : submitters) submitter.join();
  ASSERT_TRUE(collector.wait_for_finished(200));
  for (const auto& [id, prompt] : prompts) {
    const Outcome outcome = collector.outcome(id);
    EXPECT_EQ(outcome.tokens, reference_greedy(prompt, 64, 5));
    EXPECT_EQ(outcome.num_final_updates, 1);
  }
  EXPECT_TRUE(engine.healthy());
}

TEST(EngineThread, AbortFromAnotherThreadStopsTheRequest) {
  Engine engine(std::make_unique<SlowModel>(64, 4, 256, 1024), SchedulerOptions{});
  Collector collector;
  const uint64_t id = engine.submit(make_request({1, 2, 3}, 500, collector));
  ASSERT_TRUE(collector.wait_for_tokens(id, 3));
  engine.abort(id);
  ASSERT_TRUE(collector.wait_for_finished(1));
  const Outcome outcome = collector.outcome(id);
  EXPECT_EQ(outcome.reason, FinishReason::kAbort);
  EXPECT_LT(outcome.tokens.size(), 500u);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // gauges refresh after the step
  EXPECT_EQ(engine.metrics().kv_pages_request.load(), 0);
  EXPECT_TRUE(engine.idle());
}

TEST(EngineThread, FlushAnswersOnTheEngineThreadAndStopAbortsWhatIsLeft) {
  Collector collector;
  auto engine = std::make_unique<Engine>(std::make_unique<SlowModel>(64, 4, 256, 1024), SchedulerOptions{});
  const uint64_t finished = engine->submit(make_request({4, 5, 6, 7, 8}, 2, collector));
  ASSERT_TRUE(collector.wait_for_finished(1));
  EXPECT_EQ(collector.outcome(finished).reason, FinishReason::kLength);
  std::promise<bool> flushed;
  engine->flush_cache([&](bool result) { flushed.set_value(result); });
  EXPECT_TRUE(flushed.get_future().get());

  const uint64_t running = engine->submit(make_request({1}, 1000, collector));  // 2 s at 2 ms per step
  ASSERT_TRUE(collector.wait_for_tokens(running, 1));
  engine->stop();
  EXPECT_EQ(collector.outcome(running).reason, FinishReason::kAbort);
  EXPECT_NE(collector.outcome(running).error.find("shutting down"), std::string::npos);
  const uint64_t late = engine->submit(make_request({1}, 1, collector));
  EXPECT_EQ(collector.outcome(late).reason, FinishReason::kAbort);
  std::promise<bool> refused;
  engine->flush_cache([&](bool result) { refused.set_value(result); });
  EXPECT_FALSE(refused.get_future().get());
}

// Fails the forwards it is told to fail; counts them.
class UnreliableModel : public FakeModel {
 public:
  using FakeModel::FakeModel;
  Tensor forward(const ForwardBatch& batch, const DeviceSampling* sampling, bool return_logits) override {
    if (failures_left.load() > 0) {
      failures_left.fetch_sub(1);
      throw Error("simulated device failure");
    }
    return FakeModel::forward(batch, sampling, return_logits);
  }
  std::atomic<int> failures_left{0};
};

TEST(EngineThread, OneFailedForwardFailsItsBatchButSeveralInARowMakeTheEngineUnhealthy) {
  auto model = std::make_unique<UnreliableModel>(64, 4, 256, 1024);
  UnreliableModel& unreliable = *model;
  std::promise<std::string> failure;
  EngineOptions options;
  options.max_consecutive_forward_failures = 3;
  options.on_failure = [&](const std::string& why) { failure.set_value(why); };
  Engine engine(std::move(model), SchedulerOptions{}, options);
  Collector collector;

  // Two failures, then a success: transient, the engine stays healthy.
  unreliable.failures_left = 2;
  for (int i = 0; i < 3; ++i) {
    const uint64_t id = engine.submit(make_request({1, 2, 3}, 2, collector));
    ASSERT_TRUE(collector.wait_for_finished(static_cast<size_t>(i) + 1));
    EXPECT_EQ(collector.outcome(id).reason, i < 2 ? FinishReason::kError : FinishReason::kLength);
  }
  EXPECT_TRUE(engine.healthy());

  unreliable.failures_left = 3;
  for (int i = 0; i < 3; ++i) {
    engine.submit(make_request({4, 5}, 2, collector));
    ASSERT_TRUE(collector.wait_for_finished(4 + static_cast<size_t>(i)));
  }
  auto reported = failure.get_future();
  ASSERT_EQ(reported.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_NE(reported.get().find("3 model forwards failed in a row"), std::string::npos);
  EXPECT_FALSE(engine.healthy());
  const uint64_t refused = engine.submit(make_request({1}, 1, collector));
  ASSERT_TRUE(collector.wait_for_finished(7));
  EXPECT_EQ(collector.outcome(refused).reason, FinishReason::kError);
}

// Its first forward takes `stall` long.
class StallingModel : public FakeModel {
 public:
  StallingModel(std::chrono::milliseconds stall) : FakeModel(64, 4, 256, 1024), stall_(stall) {}
  Tensor forward(const ForwardBatch& batch, const DeviceSampling* sampling, bool return_logits) override {
    if (!stalled_.exchange(true)) std::this_thread::sleep_for(stall_);
    return FakeModel::forward(batch, sampling, return_logits);
  }

 private:
  std::chrono::milliseconds stall_;
  std::atomic<bool> stalled_{false};
};

TEST(EngineThread, TheWatchdogReportsAStepThatOutrunsItsTimeout) {
  std::promise<std::string> hung;
  EngineOptions options;
  options.watchdog_timeout_seconds = 0.05;
  options.on_hung_step = [&](const std::string& why) { hung.set_value(why); };
  Engine engine(std::make_unique<StallingModel>(std::chrono::milliseconds(600)), SchedulerOptions{}, options);
  Collector collector;
  engine.submit(make_request({1, 2}, 2, collector));
  auto reported = hung.get_future();
  ASSERT_EQ(reported.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_NE(reported.get().find("--watchdog-timeout"), std::string::npos);
  EXPECT_FALSE(engine.healthy());  // while the step is still running
}

TEST(EngineThread, TheWatchdogLeavesNormalStepsAlone) {
  bool fired = false;
  EngineOptions options;
  options.watchdog_timeout_seconds = 5.0;
  options.on_hung_step = [&](const std::string&) { fired = true; };
  Engine engine(std::make_unique<SlowModel>(64, 4, 256, 1024), SchedulerOptions{}, options);
  Collector collector;
  engine.submit(make_request({1, 2}, 20, collector));
  ASSERT_TRUE(collector.wait_for_finished(1));
  engine.stop();  // returns at once although the watchdog sleeps in periods of a second
  EXPECT_FALSE(fired);
  EXPECT_TRUE(engine.healthy());
}

}  // namespace
}  // namespace dsinfer::testing
