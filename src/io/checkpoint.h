// A Hugging Face hub model folder: config.json, model.safetensors.index.json (or a single
// model.safetensors), the shards it names, and optionally tokenizer / generation config files.
// Opening a checkpoint maps every shard and checks the index against the shards' headers; it reads no
// tensor data. A missing or truncated shard, or a tensor named in the index but absent from its shard,
// is a dsinfer::Error naming the file and tensor and saying the download is probably incomplete.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace dsinfer {

class Checkpoint {
 public:
  static Checkpoint open(const std::string& folder);
  // Like open(), but appends every problem found (missing config.json, missing or corrupt shard, index and
  // shard disagreeing) to `problems` instead of throwing at the first, and keeps the shards that are usable;
  // for `dsinfer inspect`, which lists them all. open() throws with all of them.
  static Checkpoint open_collecting(const std::string& folder, std::vector<std::string>* problems);

  const std::string& folder() const { return folder_; }
  bool contains(const std::string& name) const;
  // Header facts about one tensor (throws naming the tensor and the index file when absent).
  const SafetensorsEntry& entry(const std::string& name) const;
  // Zero-copy CPU view of the tensor. If expected_shape / expected_dtype are given and differ, throws
  // "tensor NAME in FILE has shape X, expected Y (is the checkpoint for this config?)".
  Tensor tensor(const std::string& name) const;
  Tensor tensor(const std::string& name, const Shape& expected_shape, DType expected_dtype) const;
  // Names of all tensors, sorted.
  std::vector<std::string> tensor_names() const;
  const std::string& file_of(const std::string& name) const;  // shard path holding the tensor
  uint64_t total_bytes() const;                               // sum of tensor bytes
  std::vector<std::string> shard_paths() const;               // every shard opened, sorted by file name
  // Tensors the index lists that can not be read: their shard is missing or corrupt, or does not hold them.
  // open_collecting() has reported why, once per cause; open() never returns with any.
  const std::set<std::string>& unavailable_tensors() const { return unavailable_; }

 private:
  std::string folder_;
  std::string listing_path_;  // model.safetensors.index.json, or model.safetensors when there is no index
  std::vector<std::shared_ptr<SafetensorsFile>> shards_;
  std::map<std::string, size_t> shard_of_;  // tensor name -> index into shards_
  std::set<std::string> unavailable_;
};

}  // namespace dsinfer
