// CUDA graphs of whole forwards: record every kernel a decode step launches on the current stream once, then
// replay them with one launch (the host cost of ~20 launches per layer disappears). Capture must not
// allocate or synchronise: run the same step eagerly first so that every plan, scratch buffer and kernel
// attribute exists.
#pragma once

#include <cuda_runtime.h>

#include <memory>

namespace dsinfer::cuda {

class CudaGraph {
 public:
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  // Starts recording the current stream (thread-local mode: other threads may keep launching).
  static void begin_capture();
  // Ends the recording and instantiates it.
  static std::unique_ptr<CudaGraph> end_capture();
  // Ends a recording that failed part-way (an op threw), discarding it, so the stream is usable again.
  static void abort_capture();
  // Launches the recorded work on the current stream.
  void replay() const;

 private:
  CudaGraph(cudaGraph_t graph, cudaGraphExec_t executable) : graph_(graph), executable_(executable) {}
  cudaGraph_t graph_;
  cudaGraphExec_t executable_;
};

}  // namespace dsinfer::cuda
