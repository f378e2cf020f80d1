// WeightSource: where the model's weights come from, tensor by tensor, already cut to this rank's slice and
// placed on the target device. Two implementations: a hub checkpoint (zero-copy views of the mmapped shards
// on the CPU) and seeded random "dummy" weights (--load-format dummy) generated on the target device.
#pragma once

#include <memory>
#include <string>

#include "core/tensor.h"
#include "io/checkpoint.h"
#include "model/config.h"

namespace dsinfer {

// The part of a 2-D tensor one tensor-parallel rank holds: all of it, or rows / columns [begin, end).
struct TensorSlice {
  enum class Axis : uint8_t { kWhole, kRows, kColumns };
  Axis axis = Axis::kWhole;
  int64_t begin = 0, end = 0;

  static TensorSlice whole() { return {}; }
  static TensorSlice rows(int64_t begin, int64_t end) { return {Axis::kRows, begin, end}; }
  static TensorSlice columns(int64_t begin, int64_t end) { return {Axis::kColumns, begin, end}; }
  Shape apply(const Shape& full) const;  // the slice's shape
};

struct StoredTensor {
  Shape shape;
  DType dtype;
};

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  virtual bool contains(const std::string& name) const = 0;
  // Full stored shape and dtype (throws naming the tensor when absent).
  virtual StoredTensor stored(const std::string& name) const = 0;
  // "tensor NAME in FILE" style location for error messages.
  virtual std::string location(const std::string& name) const = 0;
  // `slice` of the tensor, in its stored dtype, on `device`.
  virtual Tensor load(const std::string& name, const TensorSlice& slice, Device device) const = 0;
};

// A hub checkpoint folder. On the CPU a whole tensor or a row slice is a view of the mapping (no copy); a
// column slice is copied; other devices get a copy of the slice.
std::unique_ptr<WeightSource> make_checkpoint_weight_source(Checkpoint checkpoint);

// Random weights for every tensor `config` implies (FP8 with block scales under an FP8 config), seeded per
// tensor name and slice, filled on the target device by ops::fill_random. Magnitudes keep activations of
// order one through any depth: linears uniform in +-sqrt(3 / in_features), norms in [0.9, 1.1].
std::unique_ptr<WeightSource> make_dummy_weight_source(const ModelConfig& config, uint64_t seed);

}  // namespace dsinfer
