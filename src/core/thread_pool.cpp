#include "core/thread_pool.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace dsinfer {

namespace {

class ThreadPool {
 public:
  explicit ThreadPool(int threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      ++generation_;
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
  }
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs task(i) for i in [0, size()); the caller runs task(0).
  void run(const std::function<void(int)>& task) {
    std::lock_guard<std::mutex> call_lock(call_mutex_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &task;
      pending_ = static_cast<int>(workers_.size());
      ++generation_;
    }
    wake_.notify_all();
    task(0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    task_ = nullptr;
  }

 private:
  void worker_loop(int index) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)>* task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (stopping_) return;
        task = task_;
      }
      (*task)(index);
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_, call_mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* task_ = nullptr;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
};

int default_thread_count() {
  if (const char* env = std::getenv("DSINFER_NUM_THREADS")) {
    int value = std::atoi(env);
    if (value > 0) return value;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

std::mutex pool_mutex;
std::unique_ptr<ThreadPool> pool;
int requested_threads = 0;
thread_local bool inside_parallel_region = false;

ThreadPool& shared_pool() {
  std::lock_guard<std::mutex> lock(pool_mutex);
  if (!pool) pool = std::make_unique<ThreadPool>(requested_threads > 0 ? requested_threads : default_thread_count());
  return *pool;
}

}  // namespace

int cpu_thread_count() { return shared_pool().size(); }

void set_cpu_thread_count(int threads) {
  std::lock_guard<std::mutex> lock(pool_mutex);
  requested_threads = threads;
  pool.reset();
}

void parallel_for(int64_t count, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  if (count <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  ThreadPool& threads = shared_pool();
  int64_t chunks = std::min<int64_t>(threads.size(), (count + grain - 1) / grain);
  if (chunks <= 1 || inside_parallel_region) {
    body(0, count);
    return;
  }
  std::exception_ptr first_error;
  std::mutex error_mutex;
  threads.run([&](int index) {
    if (index >= chunks) return;
    int64_t begin = count * index / chunks, end = count * (index + 1) / chunks;
    inside_parallel_region = true;
    try {
      body(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
    }
    inside_parallel_region = false;
  });
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace dsinfer
