// The ops-level face of CUDA graph capture (kernels/runtime/cuda_graph.h) for the model's decode graphs.
#include "kernels/runtime/cuda_graph.h"
#include "kernels/runtime/scratch.h"
#include "ops/cuda/cuda_ops.h"

namespace dsinfer::ops::cuda {

class CapturedGraph {
 public:
  explicit CapturedGraph(std::unique_ptr<dsinfer::cuda::CudaGraph> graph) : graph_(std::move(graph)) {}
  void replay() const { graph_->replay(); }

 private:
  std::unique_ptr<dsinfer::cuda::CudaGraph> graph_;
};

void begin_graph_capture() { dsinfer::cuda::CudaGraph::begin_capture(); }

std::shared_ptr<CapturedGraph> end_graph_capture() {
  return std::make_shared<CapturedGraph>(dsinfer::cuda::CudaGraph::end_capture());
}

void abort_graph_capture() { dsinfer::cuda::CudaGraph::abort_capture(); }

void replay_graph(const CapturedGraph& graph) { graph.replay(); }

uint64_t graph_memory_generation() { return dsinfer::cuda::scratch_generation(); }

}  // namespace dsinfer::ops::cuda
