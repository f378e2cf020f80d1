// Builds checkpoints in temporary folders from the fixture models, for tests that break them on purpose.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/io_test_support.h"
#include "io/safetensors.h"

namespace dsinfer::testing {

inline std::shared_ptr<SafetensorsFile> fixture_shard(const std::string& model) {
  return SafetensorsFile::open(fixture_folder(model) + "/model-00001-of-00001.safetensors");
}

// All of a fixture's tensors (views into its mapped shard), in data-offset order.
inline std::vector<std::pair<std::string, Tensor>> fixture_tensors(const std::string& model) {
  auto shard = fixture_shard(model);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& entry : shard->entries()) tensors.emplace_back(entry.name, shard->tensor(entry.name));
  return tensors;
}

inline void copy_fixture_config(const std::string& model, const std::string& folder) {
  std::filesystem::copy_file(fixture_folder(model) + "/config.json", folder + "/config.json",
                             std::filesystem::copy_options::overwrite_existing);
}

// Writes `tensors` into `shard_count` shards named as the hub names them, plus model.safetensors.index.json.
inline void write_sharded_checkpoint(const std::string& folder,
                                     const std::vector<std::pair<std::string, Tensor>>& tensors,
                                     int shard_count) {
  nlohmann::json weight_map = nlohmann::json::object();
  uint64_t total_size = 0;
  size_t per_shard = (tensors.size() + shard_count - 1) / shard_count;
  for (int shard = 0; shard < shard_count; ++shard) {
    char name[64];
    std::snprintf(name, sizeof(name), "model-%05d-of-%05d.safetensors", shard + 1, shard_count);
    std::vector<std::pair<std::string, Tensor>> part;
    for (size_t i = shard * per_shard; i < tensors.size() && i < (shard + 1) * per_shard; ++i) {
      part.push_back(tensors[i]);
      weight_map[tensors[i].first] = name;
      total_size += tensors[i].second.nbytes();
    }
    write_safetensors(folder + "/" + name, part, {{"format", "pt"}});
  }
  nlohmann::json index = {{"metadata", {{"total_size", total_size}}}, {"weight_map", weight_map}};
  write_file(folder + "/model.safetensors.index.json", index.dump(2));
}

inline nlohmann::json read_index(const std::string& folder) {
  return nlohmann::json::parse(read_file(folder + "/model.safetensors.index.json"));
}

inline void write_index(const std::string& folder, const nlohmann::json& index) {
  write_file(folder + "/model.safetensors.index.json", index.dump(2));
}

}  // namespace dsinfer::testing
