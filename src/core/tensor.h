// Tensor: a dense, row-major, contiguous n-d array on one device.
// It owns its memory (shared between copies, like a shared_ptr) or views memory owned elsewhere
// (an mmapped checkpoint, a pool). No strides: slicing is only along the first dimension.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace dsinfer {

enum class Device : uint8_t { kCpu, kCuda };
std::string_view device_name(Device device);

using Shape = std::vector<int64_t>;
std::string shape_to_string(const Shape& shape);  // "[4, 128]"
int64_t shape_numel(const Shape& shape);

// Device memory comes through this hook so that core does not depend on the CUDA runtime; the CUDA
// backend installs it at start-up (cudaMalloc / cudaFree). Allocation with no allocator installed throws.
struct DeviceAllocator {
  std::function<void*(size_t bytes)> allocate;
  std::function<void(void* pointer)> release;
};
void set_device_allocator(Device device, DeviceAllocator allocator);

class Tensor {
 public:
  Tensor() = default;

  // Owning, uninitialised (CPU memory is 64-byte aligned).
  static Tensor empty(Shape shape, DType dtype, Device device = Device::kCpu);
  // Owning, zero-filled (CPU only).
  static Tensor zeros(Shape shape, DType dtype);
  // Non-owning view; `keep_alive` (optional) holds whatever owns the memory.
  static Tensor view(void* data, Shape shape, DType dtype, Device device = Device::kCpu,
                     std::shared_ptr<const void> keep_alive = nullptr);

  bool defined() const { return data_ != nullptr; }
  void* data() const { return data_; }
  template <typename T>
  T* data_as() const {
    return static_cast<T*>(data_);
  }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int index) const;  // negative index counts from the end
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

  // Rows [begin, end) of the first dimension, sharing memory.
  Tensor slice_rows(int64_t begin, int64_t end) const;
  // Same memory, new shape with the same element count (one dimension may be -1).
  Tensor reshape(Shape shape) const;
  std::string describe() const;  // "BF16[4, 128] cpu"

 private:
  std::shared_ptr<const void> storage_;
  void* data_ = nullptr;
  Shape shape_;
  DType dtype_ = DType::kF32;
  Device device_ = Device::kCpu;
};

}  // namespace dsinfer
