#include "engine/engine.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"

namespace dsinfer {

namespace {

int64_t steady_nanoseconds() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

}  // namespace

Engine::Engine(std::unique_ptr<ModelBackend> model, SchedulerOptions options, EngineOptions engine_options)
    : model_(std::move(model)),
      options_(std::move(engine_options)),
      scheduler_(*model_, std::move(options), &metrics_),
      vocab_size_(model_->vocab_size()),
      page_size_(model_->page_size()),
      kv_capacity_tokens_(static_cast<int64_t>(model_->num_kv_pages()) * model_->page_size()) {
  DSINFER_CHECK(options_.max_consecutive_forward_failures >= 1, "the engine's max_consecutive_forward_failures must be ",
                "at least 1, got ", options_.max_consecutive_forward_failures);
  DSINFER_CHECK(options_.watchdog_timeout_seconds >= 0.0, "--watchdog-timeout must not be negative, got ",
                options_.watchdog_timeout_seconds);
  thread_ = std::thread([this] { run(); });
  if (options_.watchdog_timeout_seconds > 0.0) watchdog_ = std::thread([this] { watch(); });
}

Engine::~Engine() { stop(); }

void Engine::post(Command command) {
  {
    std::lock_guard lock(mutex_);
    inbox_.push_back(std::move(command));
  }
  wake_.notify_one();
}

uint64_t Engine::submit(GenerationRequest input) {
  auto request = std::make_unique<Request>();
  request->id = next_request_id_.fetch_add(1);
  request->input = std::move(input);
  const uint64_t id = request->id;
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      inbox_.push_back(Command{std::move(request), 0, {}});
    }
  }
  if (request) {  // not queued: the engine is shutting down
    GenerationUpdate update;
    update.request_id = id;
    update.finish_reason = FinishReason::kAbort;
    update.error = "the server is shutting down";
    if (request->input.on_update) request->input.on_update(std::move(update));
    return id;
  }
  wake_.notify_one();
  return id;
}

void Engine::abort(uint64_t request_id) { post(Command{nullptr, request_id, {}}); }

void Engine::flush_cache(std::function<void(bool)> done) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      inbox_.push_back(Command{nullptr, 0, [done](Scheduler& scheduler) { done(scheduler.flush_cache()); }});
      done = nullptr;
    }
  }
  if (done) {
    done(false);
    return;
  }
  wake_.notify_one();
}

void Engine::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_one();
  watchdog_wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (watchdog_.joinable()) watchdog_.join();
}

void Engine::turn_unhealthy(const std::string& why) {
  std::fprintf(stderr, "dsinfer engine: %s; failing all requests from now on\n", why.c_str());
  healthy_.store(false);
  try {
    scheduler_.finish_all(FinishReason::kError, why);
  } catch (const std::exception&) {
  }
  if (options_.on_failure) options_.on_failure(why);
}

void Engine::watch() {
  const auto timeout = std::chrono::duration<double>(options_.watchdog_timeout_seconds);
  const auto period = std::min<std::chrono::duration<double>>(timeout / 4, std::chrono::seconds(1));
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    watchdog_wake_.wait_for(lock, period);
    const int64_t started = step_started_ns_.load();
    if (started == 0 || std::chrono::nanoseconds(steady_nanoseconds() - started) < timeout) continue;
    char why[160];
    std::snprintf(why, sizeof(why), "a model step has run for over %.3g s (--watchdog-timeout): the device seems hung",
                  options_.watchdog_timeout_seconds);
    std::fprintf(stderr, "dsinfer engine: %s\n", why);
    healthy_.store(false);
    lock.unlock();
    if (options_.on_hung_step) options_.on_hung_step(why);
    return;
  }
}

void Engine::run() {
  std::vector<Command> commands;
  bool stalled = false;  // the last step had work but could schedule nothing (should not happen; never spin)
  int consecutive_forward_failures = 0;
  for (;;) {
    bool stopping;
    {
      std::unique_lock lock(mutex_);
      auto ready = [&] { return stopping_ || !inbox_.empty() || (scheduler_.has_work() && !stalled); };
      if (stalled) {
        wake_.wait_for(lock, std::chrono::milliseconds(1), ready);
      } else {
        wake_.wait(lock, ready);
      }
      commands.swap(inbox_);
      stopping = stopping_;
    }
    try {
      for (Command& command : commands) {
        if (command.request) {
          scheduler_.add(std::move(command.request));
        } else if (command.task) {
          command.task(scheduler_);
        } else {
          scheduler_.abort(command.abort_id);
        }
      }
      commands.clear();
      if (stopping) {
        scheduler_.finish_all(FinishReason::kAbort, "the server is shutting down");
        return;
      }
      if (!healthy_.load()) {
        scheduler_.finish_all(FinishReason::kError, "the engine failed earlier and is not serving");
        continue;
      }
      stalled = false;
      if (scheduler_.has_work()) {
        step_started_ns_.store(steady_nanoseconds());
        const StepStats stats = scheduler_.step();
        step_started_ns_.store(0);
        stalled = stats.num_tokens == 0;
        if (stats.forward_failed) {
          if (++consecutive_forward_failures >= options_.max_consecutive_forward_failures) {
            turn_unhealthy(std::to_string(consecutive_forward_failures) + " model forwards failed in a row");
          }
        } else if (stats.num_tokens > 0) {
          consecutive_forward_failures = 0;
          metrics_.scheduler_overhead.observe(stats.overhead_seconds());
          metrics_.scheduler_overhead_cpu.observe(stats.overhead_cpu_seconds);
        }
      }
    } catch (const std::exception& error) {
      // A bug, not bad input (that is rejected per request).
      step_started_ns_.store(0);
      commands.clear();
      turn_unhealthy(std::string("internal engine error: ") + error.what());
    }
  }
}

}  // namespace dsinfer
