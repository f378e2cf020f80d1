#include "core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>

#include "core/error.h"

namespace dsinfer {

namespace {
DeviceAllocator& allocator_for(Device device) {
  static DeviceAllocator allocators[2];
  return allocators[static_cast<int>(device)];
}
}  // namespace

std::string_view device_name(Device device) { return device == Device::kCpu ? "cpu" : "cuda"; }

std::string shape_to_string(const Shape& shape) {
  std::ostringstream stream;
  stream << '[';
  for (size_t i = 0; i < shape.size(); ++i) stream << (i ? ", " : "") << shape[i];
  stream << ']';
  return stream.str();
}

int64_t shape_numel(const Shape& shape) {
  int64_t count = 1;
  for (int64_t extent : shape) count *= extent;
  return count;
}

void set_device_allocator(Device device, DeviceAllocator allocator) { allocator_for(device) = std::move(allocator); }

Tensor Tensor::empty(Shape shape, DType dtype, Device device) {
  for (int64_t extent : shape) DSINFER_CHECK(extent >= 0, "tensor shape ", shape_to_string(shape), " has a negative extent");
  Tensor tensor;
  tensor.shape_ = std::move(shape);
  tensor.dtype_ = dtype;
  tensor.device_ = device;
  size_t bytes = tensor.nbytes();
  size_t padded = (bytes + 63) / 64 * 64;
  if (padded == 0) padded = 64;
  if (device == Device::kCpu) {
    void* memory = std::aligned_alloc(64, padded);
    DSINFER_CHECK(memory != nullptr, "out of host memory allocating ", bytes, " bytes");
    tensor.storage_ = std::shared_ptr<const void>(memory, [](const void* p) { std::free(const_cast<void*>(p)); });
    tensor.data_ = memory;
  } else {
    DeviceAllocator& allocator = allocator_for(device);
    DSINFER_CHECK(allocator.allocate != nullptr, "no allocator installed for device ", device_name(device));
    void* memory = allocator.allocate(padded);
    auto release = allocator.release;
    tensor.storage_ = std::shared_ptr<const void>(memory, [release](const void* p) { release(const_cast<void*>(p)); });
    tensor.data_ = memory;
  }
  return tensor;
}

Tensor Tensor::zeros(Shape shape, DType dtype) {
  Tensor tensor = empty(std::move(shape), dtype, Device::kCpu);
  std::memset(tensor.data_, 0, tensor.nbytes());
  return tensor;
}

Tensor Tensor::view(void* data, Shape shape, DType dtype, Device device, std::shared_ptr<const void> keep_alive) {
  Tensor tensor;
  tensor.storage_ = std::move(keep_alive);
  tensor.data_ = data;
  tensor.shape_ = std::move(shape);
  tensor.dtype_ = dtype;
  tensor.device_ = device;
  return tensor;
}

int64_t Tensor::dim(int index) const {
  int resolved = index < 0 ? index + rank() : index;
  DSINFER_CHECK(resolved >= 0 && resolved < rank(), "dimension ", index, " out of range for ", describe());
  return shape_[resolved];
}

Tensor Tensor::slice_rows(int64_t begin, int64_t end) const {
  DSINFER_CHECK(rank() >= 1 && 0 <= begin && begin <= end && end <= shape_[0], "slice [", begin, ", ", end,
                ") out of range for ", describe());
  Tensor result = *this;
  result.shape_[0] = end - begin;
  size_t row_bytes = shape_[0] == 0 ? 0 : nbytes() / static_cast<size_t>(shape_[0]);
  result.data_ = static_cast<char*>(data_) + static_cast<size_t>(begin) * row_bytes;
  return result;
}

Tensor Tensor::reshape(Shape shape) const {
  int inferred = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      DSINFER_CHECK(inferred < 0, "reshape to ", shape_to_string(shape), ": more than one -1");
      inferred = static_cast<int>(i);
    } else {
      known *= shape[i];
    }
  }
  if (inferred >= 0) {
    DSINFER_CHECK(known > 0 && numel() % known == 0, "cannot reshape ", describe(), " to ", shape_to_string(shape));
    shape[inferred] = numel() / known;
  }
  DSINFER_CHECK(shape_numel(shape) == numel(), "cannot reshape ", describe(), " to ", shape_to_string(shape));
  Tensor result = *this;
  result.shape_ = std::move(shape);
  return result;
}

std::string Tensor::describe() const {
  return detail::concat(dtype_name(dtype_), shape_to_string(shape_), ' ', device_name(device_));
}

}  // namespace dsinfer
