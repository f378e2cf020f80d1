#include "io/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/error.h"
#include "io/strict_json.h"

namespace dsinfer {

namespace {

namespace fs = std::filesystem;

constexpr const char* kIndexFile = "model.safetensors.index.json";
constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIncomplete = "the download is probably incomplete";
constexpr size_t kProblemsInMessage = 20;  // open() lists this many problems, then a count of the rest

std::string read_text_file(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) fail("cannot open ", path);
  std::ostringstream contents;
  contents << stream.rdbuf();
  if (stream.bad()) fail("cannot read ", path);
  return contents.str();
}

// A shard named in the index must be a plain file in the model folder: no directories, no "..", not absolute.
bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\\') == std::string::npos && name.find('\0') == std::string::npos;
}

// Reads weight_map (tensor name -> shard file name) from the index, grouped by shard.
std::map<std::string, std::vector<std::string>> read_weight_map(const std::string& index_path,
                                                                std::vector<std::string>* problems) {
  std::map<std::string, std::vector<std::string>> tensors_by_shard;
  nlohmann::json index;
  try {
    index = parse_strict_json(read_text_file(index_path), index_path);
  } catch (const Error& error) {
    problems->push_back(error.what());
    return tensors_by_shard;
  }
  auto weight_map = index.is_object() ? index.find("weight_map") : index.end();
  if (!index.is_object() || weight_map == index.end() || !weight_map->is_object()) {
    problems->push_back(index_path + ": no \"weight_map\" object (tensor name -> shard file)");
    return tensors_by_shard;
  }
  for (const auto& [tensor_name, shard] : weight_map->items()) {
    if (!shard.is_string() || !is_plain_file_name(shard.get<std::string>())) {
      problems->push_back(detail::concat(index_path, ": weight_map entry for tensor \"", tensor_name,
                                         "\" must be a plain file name in the model folder, got ",
                                         shard.dump()));
      continue;
    }
    tensors_by_shard[shard.get<std::string>()].push_back(tensor_name);
  }
  if (weight_map->empty()) problems->push_back(index_path + ": \"weight_map\" is empty");
  return tensors_by_shard;
}

}  // namespace

Checkpoint Checkpoint::open(const std::string& folder) {
  std::vector<std::string> problems;
  Checkpoint checkpoint = open_collecting(folder, &problems);
  if (problems.size() == 1) throw Error(problems.front());
  if (!problems.empty()) {
    std::ostringstream message;
    message << "checkpoint " << folder << " has " << problems.size() << " problems:";
    for (size_t i = 0; i < problems.size() && i < kProblemsInMessage; ++i) message << "\n  " << problems[i];
    if (problems.size() > kProblemsInMessage) {
      message << "\n  ... and " << problems.size() - kProblemsInMessage << " more";
    }
    throw Error(message.str());
  }
  return checkpoint;
}

Checkpoint Checkpoint::open_collecting(const std::string& folder, std::vector<std::string>* problems) {
  Checkpoint checkpoint;
  checkpoint.folder_ = folder;
  std::error_code error;
  if (!fs::is_directory(folder, error)) {
    problems->push_back(detail::concat(
        "model folder ", folder, fs::exists(folder, error) ? " is not a directory" : " does not exist"));
    return checkpoint;
  }
  fs::path root(folder);
  if (!fs::exists(root / "config.json", error)) {
    problems->push_back(
        detail::concat("no config.json in ", folder, ": not a Hugging Face model folder, or ", kIncomplete));
  }

  std::string index_path = (root / kIndexFile).string();
  std::string single_path = (root / kSingleFile).string();
  std::map<std::string, std::vector<std::string>> tensors_by_shard;
  if (fs::exists(index_path, error)) {
    checkpoint.listing_path_ = index_path;
    tensors_by_shard = read_weight_map(index_path, problems);
  } else if (fs::exists(single_path, error)) {
    checkpoint.listing_path_ = single_path;
    try {
      checkpoint.shards_.push_back(SafetensorsFile::open(single_path));
      for (const auto& entry : checkpoint.shards_.back()->entries()) {
        checkpoint.shard_of_.emplace(entry.name, 0);
      }
    } catch (const Error& failure) {
      problems->push_back(failure.what());
    }
    return checkpoint;
  } else {
    problems->push_back(detail::concat("no ", kIndexFile, " or ", kSingleFile, " in ", folder,
                                       ": the weights are missing (", kIncomplete, ")"));
    return checkpoint;
  }

  // Shard name -> index file's view of what it holds; every name in the index must be in its shard, and every
  // tensor in a shard must be in the index under that shard.
  std::map<std::string, std::string> shard_of_name;
  for (const auto& [shard_name, names] : tensors_by_shard) {
    for (const auto& name : names) shard_of_name.emplace(name, shard_name);
  }
  for (const auto& [shard_name, names] : tensors_by_shard) {
    std::string shard_path = (root / shard_name).string();
    if (!fs::exists(shard_path, error)) {
      problems->push_back(detail::concat("shard ", shard_path, " is missing (", index_path, " places ",
                                         names.size(), " tensors in it, e.g. \"", names.front(),
                                         "\"): ", kIncomplete));
      checkpoint.unavailable_.insert(names.begin(), names.end());
      continue;
    }
    std::shared_ptr<SafetensorsFile> shard;
    try {
      shard = SafetensorsFile::open(shard_path);
    } catch (const Error& failure) {
      problems->push_back(failure.what());
      checkpoint.unavailable_.insert(names.begin(), names.end());
      continue;
    }
    size_t shard_index = checkpoint.shards_.size();
    checkpoint.shards_.push_back(shard);
    for (const auto& name : names) {
      if (shard->contains(name)) {
        checkpoint.shard_of_.emplace(name, shard_index);
      } else {
        checkpoint.unavailable_.insert(name);
        problems->push_back(detail::concat("tensor \"", name, "\" is listed in ", index_path, " under ",
                                           shard_name, " but ", shard_path,
                                           " does not contain it: ", kIncomplete));
      }
    }
    for (const auto& entry : shard->entries()) {
      auto listed = shard_of_name.find(entry.name);
      if (listed == shard_of_name.end()) {
        problems->push_back(detail::concat("tensor \"", entry.name, "\" in ", shard_path,
                                           " is not listed in ", index_path,
                                           " (the index and the shards do not belong together)"));
      } else if (listed->second != shard_name) {
        problems->push_back(detail::concat("tensor \"", entry.name, "\" in ", shard_path, " is listed in ",
                                           index_path, " under another shard, ", listed->second));
      }
    }
  }
  return checkpoint;
}

bool Checkpoint::contains(const std::string& name) const {
  return shard_of_.count(name) != 0;
}

const SafetensorsEntry& Checkpoint::entry(const std::string& name) const {
  auto found = shard_of_.find(name);
  if (found == shard_of_.end()) {
    fail("tensor \"", name, "\" is not in the checkpoint at ", folder_, " (", listing_path_,
         " does not list it)");
  }
  return shards_[found->second]->entry(name);
}

Tensor Checkpoint::tensor(const std::string& name) const {
  entry(name);  // throws naming the index file when absent
  return shards_[shard_of_.find(name)->second]->tensor(name);
}

Tensor Checkpoint::tensor(const std::string& name, const Shape& expected_shape, DType expected_dtype) const {
  const SafetensorsEntry& info = entry(name);
  if (info.dtype != expected_dtype) {
    fail("tensor \"", name, "\" in ", file_of(name), " has dtype ", dtype_name(info.dtype), ", expected ",
         dtype_name(expected_dtype), " (is the checkpoint for this config?)");
  }
  if (info.shape != expected_shape) {
    fail("tensor \"", name, "\" in ", file_of(name), " has shape ", shape_to_string(info.shape),
         ", expected ", shape_to_string(expected_shape), " (is the checkpoint for this config?)");
  }
  return shards_[shard_of_.find(name)->second]->tensor(name);
}

std::vector<std::string> Checkpoint::tensor_names() const {
  std::vector<std::string> names;
  names.reserve(shard_of_.size());
  for (const auto& item : shard_of_) names.push_back(item.first);  // std::map: already sorted
  return names;
}

const std::string& Checkpoint::file_of(const std::string& name) const {
  entry(name);  // throws naming the index file when absent
  return shards_[shard_of_.find(name)->second]->path();
}

uint64_t Checkpoint::total_bytes() const {
  uint64_t total = 0;
  for (const auto& [name, shard_index] : shard_of_) {
    const SafetensorsEntry& info = shards_[shard_index]->entry(name);
    total += info.data_end - info.data_begin;
  }
  return total;
}

std::vector<std::string> Checkpoint::shard_paths() const {
  std::vector<std::string> paths;
  for (const auto& shard : shards_) paths.push_back(shard->path());
  return paths;
}

}  // namespace dsinfer
