// A fixed pool of worker threads for CPU kernels. parallel_for splits [0, count) into contiguous chunks,
// one per worker, and returns when all are done. Nested calls run inline (no deadlock).
#pragma once

#include <cstdint>
#include <functional>

namespace dsinfer {

// Number of threads used by parallel_for (default: hardware concurrency; DSINFER_NUM_THREADS overrides).
int cpu_thread_count();
void set_cpu_thread_count(int threads);

// Calls body(begin, end) on disjoint chunks covering [0, count); chunks are at least `grain` long.
void parallel_for(int64_t count, int64_t grain, const std::function<void(int64_t begin, int64_t end)>& body);

}  // namespace dsinfer
