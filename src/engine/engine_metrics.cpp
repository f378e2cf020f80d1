#include "engine/engine_metrics.h"

#include <algorithm>

namespace dsinfer {

void LatencyHistogram::observe(double seconds) {
  const size_t bucket = static_cast<size_t>(std::lower_bound(kBounds.begin(), kBounds.end(), seconds) - kBounds.begin());
  if (bucket < kBounds.size()) buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_nanoseconds_.fetch_add(static_cast<uint64_t>(std::max(0.0, seconds) * 1e9), std::memory_order_relaxed);
}

}  // namespace dsinfer
