#include "kernels/runtime/device.h"

#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>
#include <mutex>

#include "core/error.h"
#include "kernels/common/cuda_check.h"

namespace dsinfer::cuda {

namespace {
struct DeviceState {
  int device_index = 0;
  cudaDeviceProp properties{};
  std::unique_ptr<DevicePool> pool;
  cudaStream_t compute_stream = nullptr;
};

std::mutex state_mutex;
DeviceState* state = nullptr;  // created once, lives until exit (tensors may outlive main's locals)
thread_local cudaStream_t stream_override = nullptr;

DeviceState& require_state() {
  DSINFER_CHECK(state != nullptr, "the CUDA device is not initialised (cuda::initialize was not called)");
  return *state;
}

void check_same_size(const Tensor& a, const Tensor& b, const char* what) {
  DSINFER_CHECK(a.dtype() == b.dtype() && a.numel() == b.numel(), what, ": ", a.describe(), " and ", b.describe(),
                " differ in dtype or element count");
}
}  // namespace

bool device_available() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return count > 0;
}

void initialize(const DeviceOptions& options) {
  std::lock_guard<std::mutex> lock(state_mutex);
  if (state != nullptr) return;
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  DSINFER_CHECK(status == cudaSuccess && count > 0, "no CUDA device found (", cudaGetErrorString(status),
                "); run with --device cpu");
  DSINFER_CHECK(options.device_index >= 0 && options.device_index < count, "CUDA device ", options.device_index,
                " does not exist (", count, " present)");
  DSINFER_CHECK(options.memory_fraction > 0.0 && options.memory_fraction < 1.0,
                "memory fraction must be in (0, 1), got ", options.memory_fraction);
  auto created = std::make_unique<DeviceState>();
  created->device_index = options.device_index;
  DSINFER_CUDA_CHECK(cudaSetDevice(options.device_index));
  DSINFER_CUDA_CHECK(cudaGetDeviceProperties(&created->properties, options.device_index));
  DSINFER_CHECK(created->properties.major == 9, "the CUDA backend is built for Hopper (sm_90a); device ",
                options.device_index, " (", created->properties.name, ") is sm_", created->properties.major,
                created->properties.minor);
  DSINFER_CUDA_CHECK(cudaStreamCreateWithFlags(&created->compute_stream, cudaStreamNonBlocking));
  const char* direct = std::getenv("DSINFER_CUDA_DIRECT_ALLOC");
  if (options.direct_allocations || (direct != nullptr && std::string(direct) == "1")) {
    set_device_allocator(Device::kCuda, DeviceAllocator{[](size_t bytes) {
                                                          void* pointer = nullptr;
                                                          DSINFER_CUDA_CHECK(cudaMalloc(&pointer, bytes));
                                                          return pointer;
                                                        },
                                                        [](void* pointer) { cudaFree(pointer); }});
    state = created.release();
    return;
  }
  size_t pool_bytes = options.pool_bytes;
  if (pool_bytes == 0) {
    size_t free_bytes = 0, total_bytes = 0;
    DSINFER_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    pool_bytes = static_cast<size_t>(static_cast<double>(free_bytes) * options.memory_fraction);
  }
  created->pool = std::make_unique<DevicePool>(pool_bytes);
  // Zeroed once (~40 ms for 120 GB): memory no op has written yet (a fresh KV page read by a padded decode row
  // of a CUDA graph, say) then holds finite values, never stale NaN bit patterns.
  DSINFER_CUDA_CHECK(cudaMemsetAsync(created->pool->base(), 0, created->pool->capacity(), created->compute_stream));
  DSINFER_CUDA_CHECK(cudaStreamSynchronize(created->compute_stream));
  DevicePool* pool = created->pool.get();
  set_device_allocator(Device::kCuda, DeviceAllocator{[pool](size_t bytes) { return pool->allocate(bytes); },
                                                      [pool](void* pointer) { pool->release(pointer); }});
  state = created.release();
}

DevicePool& device_pool() {
  DSINFER_CHECK(require_state().pool != nullptr, "the CUDA device runs with direct allocations (no pool)");
  return *state->pool;
}
const cudaDeviceProp& device_properties() { return require_state().properties; }
int multiprocessor_count() { return require_state().properties.multiProcessorCount; }

// Declared in kernels/common/launch.cuh.
bool programmatic_launch_enabled() {
  static const bool enabled = [] {
    const char* setting = std::getenv("DSINFER_CUDA_PDL");
    return setting == nullptr || std::string(setting) != "0";
  }();
  return enabled;
}

bool kernel_skipped_for_profiling(const char* name) {
  // DSINFER_CUDA_SKIP_KERNELS="a,b": comma-separated kernel names or name prefixes (of the names launch_kernel
  // is given, or "cublaslt_batched"; "skinny_gemm_kernel" also skips "skinny_gemm_kernel (grouped)"); read
  // once. Empty / unset: nothing is skipped.
  static const std::vector<std::string> skipped = [] {
    std::vector<std::string> names;
    const char* setting = std::getenv("DSINFER_CUDA_SKIP_KERNELS");
    if (setting == nullptr) return names;
    std::string list(setting), item;
    for (char c : list + ",") {
      if (c == ',') {
        if (!item.empty()) names.push_back(item);
        item.clear();
      } else {
        item += c;
      }
    }
    return names;
  }();
  if (skipped.empty()) return false;
  for (const std::string& skip : skipped)
    if (std::string_view(name).substr(0, skip.size()) == skip) return true;
  return false;
}

cudaStream_t current_stream() { return stream_override != nullptr ? stream_override : require_state().compute_stream; }

StreamScope::StreamScope(cudaStream_t stream) : previous_(stream_override) { stream_override = stream; }
StreamScope::~StreamScope() { stream_override = previous_; }

void synchronize() { DSINFER_CUDA_CHECK(cudaStreamSynchronize(current_stream())); }

void copy_to_device(const Tensor& host, const Tensor& device) {
  DSINFER_CHECK(host.device() == Device::kCpu && device.device() == Device::kCuda,
                "copy_to_device: expected a cpu source and a cuda destination, got ", host.describe(), " and ",
                device.describe());
  check_same_size(host, device, "copy_to_device");
  DSINFER_CUDA_CHECK(
      cudaMemcpyAsync(device.data(), host.data(), host.nbytes(), cudaMemcpyHostToDevice, current_stream()));
  synchronize();
}

void copy_to_host(const Tensor& device, const Tensor& host) {
  DSINFER_CHECK(host.device() == Device::kCpu && device.device() == Device::kCuda,
                "copy_to_host: expected a cuda source and a cpu destination, got ", device.describe(), " and ",
                host.describe());
  check_same_size(host, device, "copy_to_host");
  DSINFER_CUDA_CHECK(
      cudaMemcpyAsync(host.data(), device.data(), host.nbytes(), cudaMemcpyDeviceToHost, current_stream()));
  synchronize();
}

Tensor to_device(const Tensor& host) {
  Tensor device = Tensor::empty(host.shape(), host.dtype(), Device::kCuda);
  copy_to_device(host, device);
  return device;
}

Tensor to_host(const Tensor& device) {
  Tensor host = Tensor::empty(device.shape(), device.dtype(), Device::kCpu);
  copy_to_host(device, host);
  return host;
}

}  // namespace dsinfer::cuda
