// Per-op device time, for finding where a step goes without a profiler: with DSINFER_CUDA_OP_TIMING=1 in the
// environment, every ops::cuda call records CUDA events around its work, and at exit a table of device time per
// op (total, calls, mean) is printed to stderr. Off by default: then an OpTimer costs one branch. Calls made
// while a CUDA graph is being captured are not timed (run with --disable-cuda-graph to see decode steps).
#pragma once

namespace dsinfer::cuda {

class OpTimer {
 public:
  explicit OpTimer(const char* name);  // name: a string literal
  ~OpTimer();
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;

 private:
  const char* name_;
  void* start_ = nullptr;  // cudaEvent_t when timing
};

}  // namespace dsinfer::cuda
