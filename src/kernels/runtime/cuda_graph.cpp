#include "kernels/runtime/cuda_graph.h"

#include "core/error.h"
#include "kernels/common/cuda_check.h"
#include "kernels/runtime/device.h"

namespace dsinfer::cuda {

CudaGraph::~CudaGraph() {
  cudaGraphExecDestroy(executable_);
  cudaGraphDestroy(graph_);
}

void CudaGraph::begin_capture() {
  DSINFER_CUDA_CHECK(cudaStreamBeginCapture(current_stream(), cudaStreamCaptureModeThreadLocal));
}

std::unique_ptr<CudaGraph> CudaGraph::end_capture() {
  cudaGraph_t graph = nullptr;
  DSINFER_CUDA_CHECK(cudaStreamEndCapture(current_stream(), &graph));
  cudaGraphExec_t executable = nullptr;
  cudaError_t status = cudaGraphInstantiate(&executable, graph, 0);
  if (status != cudaSuccess) {
    cudaGraphDestroy(graph);
    check_cuda(status, "cudaGraphInstantiate", __FILE__, __LINE__);
  }
  return std::unique_ptr<CudaGraph>(new CudaGraph(graph, executable));
}

void CudaGraph::abort_capture() {
  cudaGraph_t graph = nullptr;
  if (cudaStreamEndCapture(current_stream(), &graph) == cudaSuccess && graph != nullptr) cudaGraphDestroy(graph);
  cudaGetLastError();  // the capture's error, already reported by the exception that got us here
}

void CudaGraph::replay() const { DSINFER_CUDA_CHECK(cudaGraphLaunch(executable_, current_stream())); }

}  // namespace dsinfer::cuda
