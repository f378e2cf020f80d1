#include "engine/engine.h"

#include <cstdio>

namespace dsinfer {

Engine::Engine(std::unique_ptr<ModelBackend> model, SchedulerOptions options)
    : model_(std::move(model)),
      scheduler_(*model_, std::move(options), &metrics_),
      vocab_size_(model_->vocab_size()),
      page_size_(model_->page_size()),
      kv_capacity_tokens_(static_cast<int64_t>(model_->num_kv_pages()) * model_->page_size()) {
  thread_ = std::thread([this] { run(); });
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
  if (thread_.joinable()) thread_.join();
}

void Engine::run() {
  std::vector<Command> commands;
  bool stalled = false;  // the last step had work but could schedule nothing (should not happen; never spin)
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
        const StepStats stats = scheduler_.step();
        stalled = stats.num_tokens == 0;
        if (stats.num_tokens > 0) {
          metrics_.scheduler_overhead.observe(stats.overhead_seconds());
          metrics_.scheduler_overhead_cpu.observe(stats.overhead_cpu_seconds);
        }
      }
    } catch (const std::exception& error) {
      // A bug, not bad input (that is rejected per request): fail everything, report unhealthy.
      std::fprintf(stderr, "dsinfer engine: internal error, failing all requests: %s\n", error.what());
      healthy_.store(false);
      commands.clear();
      try {
        scheduler_.finish_all(FinishReason::kError, std::string("internal engine error: ") + error.what());
      } catch (const std::exception&) {
      }
    }
  }
}

}  // namespace dsinfer
