#include "kernels/runtime/scratch.h"

#include <array>
#include <mutex>

#include "core/error.h"
#include "core/tensor.h"
#include "kernels/runtime/device.h"

namespace dsinfer::cuda {

namespace {
struct ScratchBuffers {
  std::mutex mutex;
  std::array<Tensor, static_cast<size_t>(ScratchSlot::kCount)> buffers;
  uint64_t generation = 0;
};
ScratchBuffers& scratch_buffers() {
  static ScratchBuffers* instance = new ScratchBuffers();  // lives until exit, like the pool
  return *instance;
}
}  // namespace

void* scratch(ScratchSlot slot, size_t bytes) {
  ScratchBuffers& state = scratch_buffers();
  std::lock_guard<std::mutex> lock(state.mutex);
  Tensor& buffer = state.buffers[static_cast<size_t>(slot)];
  if (buffer.defined() && buffer.nbytes() >= bytes) return buffer.data();
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  cudaStreamIsCapturing(current_stream(), &capture);
  DSINFER_CHECK(capture == cudaStreamCaptureStatusNone, "CUDA scratch slot ", static_cast<int>(slot),
                " must grow to ", bytes, " bytes while a CUDA graph is being captured; run the largest batch once "
                "before capturing");
  // Grow by half again so that a slowly rising size does not reallocate every step.
  size_t grown = buffer.defined() ? std::max(bytes, buffer.nbytes() + buffer.nbytes() / 2) : bytes;
  buffer = Tensor();  // return the old block first; earlier work on the stream still finishes before reuse
  buffer = Tensor::empty({static_cast<int64_t>(grown)}, DType::kU8, Device::kCuda);
  ++state.generation;
  return buffer.data();
}

uint64_t scratch_generation() {
  ScratchBuffers& state = scratch_buffers();
  std::lock_guard<std::mutex> lock(state.mutex);
  return state.generation;
}

}  // namespace dsinfer::cuda
