// DevicePool: all device memory of the process, reserved with one cudaMalloc at start-up and handed out by a
// best-fit free list (coalescing on release). Tensors on Device::kCuda get their memory here through the
// allocator hook of core/tensor.h, so steady-state steps never call cudaMalloc and running out of memory is
// an error that says how much was asked for and how much is left, not a crash mid-step.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>

namespace dsinfer::cuda {

class DevicePool {
 public:
  static constexpr size_t kAlignment = 256;  // cuBLASLt and 16-byte vector loads need far less; 256 keeps rows apart

  explicit DevicePool(size_t capacity_bytes);
  ~DevicePool();
  DevicePool(const DevicePool&) = delete;
  DevicePool& operator=(const DevicePool&) = delete;

  void* allocate(size_t bytes);
  void release(void* pointer);

  void* base() const { return base_; }
  size_t capacity() const { return capacity_; }
  size_t bytes_in_use() const;
  size_t largest_free_block() const;

 private:
  char* base_ = nullptr;
  size_t capacity_ = 0;
  size_t in_use_ = 0;
  mutable std::mutex mutex_;
  std::map<size_t, size_t> free_by_offset_;            // offset -> size of each free block
  std::multimap<size_t, size_t> free_by_size_;         // size -> offset (best fit)
  std::map<size_t, size_t> used_by_offset_;            // offset -> size of each live allocation

  void insert_free(size_t offset, size_t size);
  void erase_free(size_t offset, size_t size);
};

}  // namespace dsinfer::cuda
