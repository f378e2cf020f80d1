// The engine: a Scheduler driven by one dedicated thread. Other threads (HTTP I/O threads, the CLI)
// submit requests and aborts through a queue that the engine thread drains before every step, so an
// abort takes effect within one step. Updates come back through each request's on_update callback,
// called on the engine thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/engine_metrics.h"
#include "engine/model_backend.h"
#include "engine/request.h"
#include "engine/scheduler.h"

namespace dsinfer {

class Engine {
 public:
  Engine(std::unique_ptr<ModelBackend> model, SchedulerOptions options);
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

  std::unique_ptr<ModelBackend> model_;
  EngineMetrics metrics_;
  Scheduler scheduler_;  // touched only by the engine thread
  int64_t vocab_size_;
  int page_size_;
  int64_t kv_capacity_tokens_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Command> inbox_;
  bool stopping_ = false;
  std::atomic<uint64_t> next_request_id_{1};
  std::atomic<bool> healthy_{true};
  std::thread thread_;
};

}  // namespace dsinfer
