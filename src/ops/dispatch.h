// Shared by the op dispatch files: every tensor an op touches must live on one device.
#pragma once

#include <initializer_list>

#include "core/error.h"
#include "core/tensor.h"

namespace dsinfer::ops {

// The device of the defined tensors among `tensors`; throws naming the op when they disagree.
inline Device common_device(const char* op_name, std::initializer_list<const Tensor*> tensors) {
  const Tensor* first = nullptr;
  for (const Tensor* tensor : tensors) {
    if (!tensor->defined()) continue;
    if (first == nullptr) {
      first = tensor;
    } else {
      DSINFER_CHECK(tensor->device() == first->device(), "ops::", op_name, ": tensors on different devices (",
                    first->describe(), " and ", tensor->describe(), ")");
    }
  }
  DSINFER_CHECK(first != nullptr, "ops::", op_name, ": no input tensor");
  return first->device();
}

}  // namespace dsinfer::ops
