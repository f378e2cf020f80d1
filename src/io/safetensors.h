// Safetensors reader: mmaps one file, validates its header as the safetensors project does, and hands out
// zero-copy tensor views into the mapping.
//
// Validation (every failure is a dsinfer::Error naming the file and, where it applies, the tensor):
//   header length <= 100 MB and within the file; header is UTF-8 JSON object; no duplicate names;
//   dtype known; shape extents >= 0; byte size == numel x dtype size with overflow checks;
//   data offsets [begin, end) sorted, contiguous from 0, no gap or overlap, ending exactly at file end
//   (no trailing bytes). A file shorter than its header claims is reported as truncated, "the download is
//   probably incomplete".
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace dsinfer {

struct SafetensorsEntry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t data_begin;  // byte offset into the data section (after the 8-byte length and the header)
  uint64_t data_end;
};

class SafetensorsFile {
 public:
  // Maps and validates `path`. Throws dsinfer::Error on any violation.
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);
  // Validates an in-memory image (for tests and fuzzing); `label` names it in errors. The bytes are copied.
  static std::shared_ptr<SafetensorsFile> parse(const std::string& label, const void* bytes, size_t size);
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }         // in data-offset order
  const std::map<std::string, std::string>& metadata() const { return metadata_; }  // "__metadata__"
  bool contains(const std::string& name) const;
  const SafetensorsEntry& entry(const std::string& name) const;  // throws naming file + tensor
  // CPU view of the tensor's bytes inside the mapping; keeps the file mapped while the view lives.
  Tensor tensor(const std::string& name) const;
  uint64_t file_size() const { return size_; }

 private:
  SafetensorsFile() = default;
  // Validates the header of base_[0, size_) and fills entries_, index_, metadata_ and data_offset_.
  void load_header();
  std::string path_;
  const uint8_t* base_ = nullptr;  // whole file
  uint64_t size_ = 0;
  uint64_t data_offset_ = 0;  // 8 + header length
  bool mapped_ = false;
  std::vector<uint8_t> owned_;  // parse(): the copied image
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
  std::weak_ptr<SafetensorsFile> self_;
};

// Writes tensors (CPU, any dtype) to a safetensors file; used by `dsinfer logits --out` and tests.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace dsinfer
