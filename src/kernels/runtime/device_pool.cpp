#include "kernels/runtime/device_pool.h"

#include "core/error.h"
#include "kernels/common/cuda_check.h"

namespace dsinfer::cuda {

namespace {
size_t round_up(size_t value, size_t multiple) { return (value + multiple - 1) / multiple * multiple; }
double gib(size_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0); }
}  // namespace

DevicePool::DevicePool(size_t capacity_bytes) : capacity_(round_up(capacity_bytes, kAlignment)) {
  DSINFER_CHECK(capacity_ > 0, "CUDA memory pool: capacity must be positive");
  void* memory = nullptr;
  cudaError_t status = cudaMalloc(&memory, capacity_);
  if (status != cudaSuccess) {
    size_t free_bytes = 0, total_bytes = 0;
    cudaGetLastError();
    cudaMemGetInfo(&free_bytes, &total_bytes);
    fail("cannot reserve the CUDA memory pool of ", gib(capacity_), " GiB: ", cudaGetErrorString(status), " (",
         gib(free_bytes), " GiB free of ", gib(total_bytes), " GiB; lower --mem-fraction-static)");
  }
  base_ = static_cast<char*>(memory);
  insert_free(0, capacity_);
}

DevicePool::~DevicePool() {
  if (base_ != nullptr) cudaFree(base_);
}

void DevicePool::insert_free(size_t offset, size_t size) {
  free_by_offset_[offset] = size;
  free_by_size_.emplace(size, offset);
}

void DevicePool::erase_free(size_t offset, size_t size) {
  free_by_offset_.erase(offset);
  auto [first, last] = free_by_size_.equal_range(size);
  for (auto it = first; it != last; ++it) {
    if (it->second == offset) {
      free_by_size_.erase(it);
      return;
    }
  }
}

void* DevicePool::allocate(size_t bytes) {
  size_t size = round_up(bytes == 0 ? 1 : bytes, kAlignment);
  std::lock_guard<std::mutex> lock(mutex_);
  auto fit = free_by_size_.lower_bound(size);
  if (fit == free_by_size_.end()) {
    size_t largest = free_by_size_.empty() ? 0 : free_by_size_.rbegin()->first;
    fail("CUDA memory pool exhausted: asked for ", bytes, " bytes (", gib(bytes), " GiB); ", gib(capacity_ - in_use_),
         " GiB free of ", gib(capacity_), " GiB, largest free block ", gib(largest),
         " GiB (raise --mem-fraction-static, or lower the batch size / context length)");
  }
  size_t block_size = fit->first, offset = fit->second;
  erase_free(offset, block_size);
  if (block_size > size) insert_free(offset + size, block_size - size);
  used_by_offset_[offset] = size;
  in_use_ += size;
  return base_ + offset;
}

void DevicePool::release(void* pointer) {
  if (pointer == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  size_t offset = static_cast<size_t>(static_cast<char*>(pointer) - base_);
  auto used = used_by_offset_.find(offset);
  DSINFER_CHECK(used != used_by_offset_.end(), "CUDA memory pool: release of a pointer it did not allocate");
  size_t size = used->second;
  used_by_offset_.erase(used);
  in_use_ -= size;
  // Merge with the free neighbours on both sides.
  auto next = free_by_offset_.lower_bound(offset);
  if (next != free_by_offset_.end() && next->first == offset + size) {
    size_t next_size = next->second;
    erase_free(next->first, next_size);
    size += next_size;
  }
  auto previous = free_by_offset_.lower_bound(offset);
  if (previous != free_by_offset_.begin()) {
    --previous;
    if (previous->first + previous->second == offset) {
      size_t previous_offset = previous->first, previous_size = previous->second;
      erase_free(previous_offset, previous_size);
      offset = previous_offset;
      size += previous_size;
    }
  }
  insert_free(offset, size);
}

size_t DevicePool::bytes_in_use() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return in_use_;
}

size_t DevicePool::largest_free_block() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return free_by_size_.empty() ? 0 : free_by_size_.rbegin()->first;
}

}  // namespace dsinfer::cuda
