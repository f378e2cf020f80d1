#include "kernels/runtime/op_timing.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "kernels/runtime/device.h"

namespace dsinfer::cuda {

namespace {

struct Record {
  const char* name;
  cudaEvent_t start, stop;
};

class Timings {
 public:
  Timings() {
    const char* setting = std::getenv("DSINFER_CUDA_OP_TIMING");
    enabled_ = setting != nullptr && std::strcmp(setting, "1") == 0;
  }
  ~Timings() { report(); }
  bool enabled() const { return enabled_; }
  void add(const Record& record) {
    std::lock_guard<std::mutex> lock(mutex_);
    records_.push_back(record);
  }

 private:
  void report() {
    if (!enabled_ || records_.empty()) return;
    cudaDeviceSynchronize();
    struct Total {
      double milliseconds = 0.0;
      int64_t calls = 0;
    };
    std::map<std::string, Total> totals;
    double all = 0.0;
    for (const Record& record : records_) {
      float milliseconds = 0.0f;
      if (cudaEventElapsedTime(&milliseconds, record.start, record.stop) != cudaSuccess) continue;
      totals[record.name].milliseconds += milliseconds;
      totals[record.name].calls += 1;
      all += milliseconds;
    }
    std::vector<std::pair<std::string, Total>> sorted(totals.begin(), totals.end());
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return a.second.milliseconds > b.second.milliseconds; });
    std::fprintf(stderr, "\n| op (DSINFER_CUDA_OP_TIMING) | device ms | share | calls | us per call |\n|---|---|---|---|---|\n");
    for (const auto& [name, total] : sorted)
      std::fprintf(stderr, "| %s | %.2f | %.1f%% | %lld | %.1f |\n", name.c_str(), total.milliseconds,
                   100.0 * total.milliseconds / all, static_cast<long long>(total.calls),
                   1000.0 * total.milliseconds / total.calls);
  }

  bool enabled_ = false;
  std::mutex mutex_;
  std::vector<Record> records_;
};

Timings& timings() {
  static Timings instance;
  return instance;
}

bool capturing() {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  cudaStreamIsCapturing(current_stream(), &status);
  return status != cudaStreamCaptureStatusNone;
}

}  // namespace

OpTimer::OpTimer(const char* name) : name_(name) {
  if (!timings().enabled() || capturing()) return;
  cudaEvent_t start;
  if (cudaEventCreate(&start) != cudaSuccess) return;
  cudaEventRecord(start, current_stream());
  start_ = start;
}

OpTimer::~OpTimer() {
  if (start_ == nullptr) return;
  cudaEvent_t stop;
  if (cudaEventCreate(&stop) != cudaSuccess) return;
  cudaEventRecord(stop, current_stream());
  timings().add({name_, static_cast<cudaEvent_t>(start_), stop});
}

}  // namespace dsinfer::cuda
