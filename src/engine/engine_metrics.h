// Counters and latency histograms the engine thread updates and /metrics reads from other threads
// (all atomics: reading never blocks the engine).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace dsinfer {

// Cumulative histogram with fixed bucket bounds (seconds), Prometheus-style.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 14> kBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                     0.25,  0.5,    1.0,   2.5,  5.0,   10.0, 30.0};
  void observe(double seconds);
  uint64_t bucket_count(size_t bucket) const { return buckets_[bucket].load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum_seconds() const { return static_cast<double>(sum_nanoseconds_.load(std::memory_order_relaxed)) * 1e-9; }

 private:
  std::array<std::atomic<uint64_t>, kBounds.size()> buckets_{};  // observations <= kBounds[i] (not cumulative)
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_nanoseconds_{0};
};

struct EngineMetrics {
  // Gauges, refreshed by the engine thread after every step.
  std::atomic<int64_t> running_requests{0};
  std::atomic<int64_t> queued_requests{0};
  std::atomic<int64_t> kv_pages_total{0};
  std::atomic<int64_t> kv_pages_free{0};
  std::atomic<int64_t> kv_pages_request{0};   // held by requests alone (not in the prefix cache)
  std::atomic<int64_t> kv_pages_cached{0};    // in the prefix cache (some may be pinned by requests)
  // Counters.
  std::atomic<uint64_t> requests_finished{0};
  std::atomic<uint64_t> requests_aborted{0};
  std::atomic<uint64_t> requests_failed{0};
  std::atomic<uint64_t> prompt_tokens{0};         // prompt tokens of admitted requests (first admission)
  std::atomic<uint64_t> prefix_cache_hit_tokens{0};  // of which came from the prefix cache
  std::atomic<uint64_t> generated_tokens{0};
  std::atomic<uint64_t> preemptions{0};           // retractions for want of KV pages
  std::atomic<uint64_t> steps{0};
  LatencyHistogram time_to_first_token;
  LatencyHistogram inter_token_latency;
  LatencyHistogram scheduler_overhead;  // per step: everything but the forward and the sampler (wall clock)
  LatencyHistogram scheduler_overhead_cpu;  // the same, engine-thread CPU time (immune to other load)
  LatencyHistogram forward_time;        // per step: the model forward
};

}  // namespace dsinfer
