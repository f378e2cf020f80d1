// The engine: a Scheduler driven by one dedicated thread. Other threads (HTTP I/O threads, the CLI)
// submit requests and aborts through a queue that the engine thread drains before every step, so an
// abort takes effect within one step. Updates come back through each request's on_update callback,
// called on the engine thread.
//
// Health: a forward that throws fails only its batch, but several in a row (none succeeding in between)
// mean a broken device, and an unexpected error means a bug; either turns the engine unhealthy for good
// (every request then fails at once). An optional watchdog thread catches a step that never returns (a hung
// device): it turns the engine unhealthy while the step is still running.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine_metrics.h"
#include "engine/model_backend.h"
#include "engine/request.h"
#include "engine/scheduler.h"

namespace dsinfer {

struct EngineOptions {
  int max_consecutive_forward_failures = 3;
  double watchdog_timeout_seconds = 0.0;  // a step longer than this is a hung device (0: no watchdog)
  // Called once when the engine turns unhealthy, with why, from the engine thread (every request has failed).
  std::function<void(const std::string& why)> on_failure;
  // Called once from the watchdog thread when a step outruns watchdog_timeout_seconds; the step is still running,
  // so the engine thread can not be joined.
  std::function<void(const std::string& why)> on_hung_step;
};

class Engine {
 public:
  Engine(std::unique_ptr<ModelBackend> model, SchedulerOptions options, EngineOptions engine_options = {});
  ~Engine();  // stop()
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Thread-safe. Returns the request id (for abort). Invalid requests finish with an error update.
  uint64_t submit(GenerationRequest request);
  // Thread-safe; unknown or finished ids are ignored.
  void abort(uint64_t request_id);
  // Empties the prefix cache if nothing is queued or running; `done(flushed)` runs on the engine thread
  // (or at once with false when the engine is stopping).
  void flush_cache(std::function<void(bool flushed)> done);
  // Aborts whatever is left and joins the engine thread. Idempotent.
  void stop();

  // False once the engine thread hit an unexpected error (it then fails every request it is given).
  bool healthy() const { return healthy_.load(); }
  bool idle() const { return metrics_.running_requests.load() == 0 && metrics_.queued_requests.load() == 0; }
  const EngineMetrics& metrics() const { return metrics_; }
  int64_t vocab_size() const { return vocab_size_; }
  int page_size() const { return page_size_; }
  int64_t kv_capacity_tokens() const { return kv_capacity_tokens_; }

 private:
  struct Command {
    std::unique_ptr<Request> request;             // submit
    uint64_t abort_id = 0;                        // abort
    std::function<void(Scheduler&)> task;         // anything else, run between steps
  };

  void run();
  void post(Command command);
  void turn_unhealthy(const std::string& why);  // engine thread
  void watch();                                 // the watchdog thread

  std::unique_ptr<ModelBackend> model_;
  EngineOptions options_;
  EngineMetrics metrics_;
  Scheduler scheduler_;  // touched only by the engine thread
  int64_t vocab_size_;
  int page_size_;
  int64_t kv_capacity_tokens_;

  std::mutex mutex_;
  std::condition_variable wake_;           // the engine thread's
  std::condition_variable watchdog_wake_;  // the watchdog's (only stop() wakes it early)
  std::vector<Command> inbox_;
  bool stopping_ = false;
  std::atomic<uint64_t> next_request_id_{1};
  std::atomic<bool> healthy_{true};
  std::atomic<int64_t> step_started_ns_{0};  // steady-clock time the running step began; 0 between steps
  std::thread thread_;
  std::thread watchdog_;  // when options_.watchdog_timeout_seconds > 0
};

}  // namespace dsinfer
