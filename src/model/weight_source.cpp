#include "model/weight_source.h"

#include <cmath>
#include <cstring>
#include <map>

#include "core/error.h"
#include "io/expected_tensors.h"
#include "ops/copy.h"
#include "ops/fill_random.h"

namespace dsinfer {

Shape TensorSlice::apply(const Shape& full) const {
  if (axis == Axis::kWhole) return full;
  int dimension = axis == Axis::kRows ? 0 : 1;
  DSINFER_CHECK(full.size() == 2 && 0 <= begin && begin <= end && end <= full[dimension], "slice [", begin, ", ",
                end, ") of ", axis == Axis::kRows ? "rows" : "columns", " does not fit shape ", shape_to_string(full));
  Shape shape = full;
  shape[dimension] = end - begin;
  return shape;
}

namespace {

// Moves a CPU tensor to `device` (a no-op on the CPU).
Tensor place(const Tensor& host, Device device) {
  if (device == Device::kCpu) return host;
  Tensor placed = Tensor::empty(host.shape(), host.dtype(), device);
  ops::copy(host, placed);
  return placed;
}

class CheckpointWeightSource final : public WeightSource {
 public:
  explicit CheckpointWeightSource(Checkpoint checkpoint) : checkpoint_(std::move(checkpoint)) {}

  bool contains(const std::string& name) const override { return checkpoint_.contains(name); }
  StoredTensor stored(const std::string& name) const override {
    const SafetensorsEntry& entry = checkpoint_.entry(name);
    return {entry.shape, entry.dtype};
  }
  std::string location(const std::string& name) const override {
    return detail::concat("tensor \"", name, "\" in ", checkpoint_.file_of(name));
  }
  Tensor load(const std::string& name, const TensorSlice& slice, Device device) const override {
    Tensor full = checkpoint_.tensor(name);
    Shape shape = slice.apply(full.shape());
    switch (slice.axis) {
      case TensorSlice::Axis::kWhole:
        return place(full, device);
      case TensorSlice::Axis::kRows:
        return place(full.slice_rows(slice.begin, slice.end), device);
      case TensorSlice::Axis::kColumns: {
        Tensor part = Tensor::empty(shape, full.dtype());
        const size_t element = dtype_size(full.dtype());
        const size_t row_bytes = static_cast<size_t>(full.dim(1)) * element, part_bytes = static_cast<size_t>(shape[1]) * element;
        for (int64_t row = 0; row < shape[0]; ++row) {
          std::memcpy(static_cast<char*>(part.data()) + row * part_bytes,
                      static_cast<const char*>(full.data()) + row * row_bytes + slice.begin * element, part_bytes);
        }
        return place(part, device);
      }
    }
    fail("unreachable");
  }

 private:
  Checkpoint checkpoint_;
};

uint64_t name_hash(const std::string& text) {  // FNV-1a
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ull;
  return hash;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class DummyWeightSource final : public WeightSource {
 public:
  DummyWeightSource(const ModelConfig& config, uint64_t seed) : seed_(seed) {
    for (const ExpectedTensor& expected : expected_tensors(config)) {
      if (expected.mtp) continue;  // the forward does not run MTP layers
      catalog_[expected.name] = {expected.shape, expected.dtypes.front()};
      if (expected.fp8_scale_shape && expected.dtypes.front() == DType::kF8E4M3) {
        catalog_[fp8_scale_name(expected.name)] = {*expected.fp8_scale_shape, DType::kF32};
      }
    }
  }

  bool contains(const std::string& name) const override { return catalog_.count(name) != 0; }
  StoredTensor stored(const std::string& name) const override {
    auto found = catalog_.find(name);
    DSINFER_CHECK(found != catalog_.end(), "dummy weights: the config implies no tensor \"", name, "\"");
    return found->second;
  }
  std::string location(const std::string& name) const override {
    return detail::concat("dummy tensor \"", name, "\"");
  }
  Tensor load(const std::string& name, const TensorSlice& slice, Device device) const override {
    const StoredTensor info = stored(name);
    Tensor tensor = Tensor::empty(slice.apply(info.shape), info.dtype, device);
    const uint64_t seed = seed_ ^ name_hash(name) ^ (static_cast<uint64_t>(slice.begin) * 0x9e3779b97f4a7c15ull);
    if (ends_with(name, "_scale_inv")) {
      // Codes span +-448, so this scale gives the weight +-sqrt(3 / in_features).
      float scale = linear_bound(catalog_.at(name.substr(0, name.size() - std::strlen("_scale_inv")))) / 448.0f;
      ops::fill_random(tensor, seed, scale, scale);
    } else if (info.dtype == DType::kF8E4M3) {
      ops::fill_random(tensor, seed, -448.0f, 448.0f);
    } else if (ends_with(name, "norm.weight")) {
      ops::fill_random(tensor, seed, 0.9f, 1.1f);
    } else if (ends_with(name, "e_score_correction_bias")) {
      ops::fill_random(tensor, seed, -0.05f, 0.05f);
    } else if (name == "model.embed_tokens.weight") {
      ops::fill_random(tensor, seed, -1.0f, 1.0f);
    } else {
      float bound = linear_bound(info);
      ops::fill_random(tensor, seed, -bound, bound);
    }
    return tensor;
  }

 private:
  static float linear_bound(const StoredTensor& weight) {
    return static_cast<float>(std::sqrt(3.0 / static_cast<double>(weight.shape.back())));
  }

  uint64_t seed_;
  std::map<std::string, StoredTensor> catalog_;
};

}  // namespace

std::unique_ptr<WeightSource> make_checkpoint_weight_source(Checkpoint checkpoint) {
  return std::make_unique<CheckpointWeightSource>(std::move(checkpoint));
}

std::unique_ptr<WeightSource> make_dummy_weight_source(const ModelConfig& config, uint64_t seed) {
  return std::make_unique<DummyWeightSource>(config, seed);
}

}  // namespace dsinfer
