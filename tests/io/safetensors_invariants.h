// What must hold for any image SafetensorsFile::parse accepts; shared by the mutation test and the libFuzzer
// target. Touches every byte of every tensor view, so a view outside the image shows up under ASan /
// valgrind.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "core/error.h"
#include "io/safetensors.h"

namespace dsinfer::testing {

// "" when `file` (parsed from image[0, size)) is consistent with the image, else what is wrong.
inline std::string safetensors_invariant_violation(const SafetensorsFile& file, const uint8_t* image,
                                                   size_t size) {
  if (size < 8) return "accepted an image shorter than 8 bytes";
  uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | image[i];
  if (header_length > 100'000'000 || header_length > size - 8)
    return "accepted a header length beyond the limits";
  uint64_t data_offset = 8 + header_length;
  if (image[8] != '{') return "accepted a header that does not start with '{'";
  uint64_t cursor = 0;
  for (const SafetensorsEntry& entry : file.entries()) {
    if (entry.data_begin != cursor)
      return "tensor " + entry.name + " is not contiguous with the previous one";
    if (entry.data_end < entry.data_begin) return "tensor " + entry.name + " ends before it begins";
    uint64_t bytes = dtype_size(entry.dtype);
    for (int64_t extent : entry.shape) {
      if (extent < 0 || __builtin_mul_overflow(bytes, static_cast<uint64_t>(extent), &bytes)) {
        return "tensor " + entry.name + " has an invalid shape";
      }
    }
    if (bytes != entry.data_end - entry.data_begin)
      return "tensor " + entry.name + " has the wrong byte count";
    cursor = entry.data_end;
    if (!file.contains(entry.name) || &file.entry(entry.name) != &entry)
      return "index broken for " + entry.name;
    Tensor view = file.tensor(entry.name);
    if (view.nbytes() != bytes) return "view of " + entry.name + " has the wrong size";
    if (bytes > 0 && std::memcmp(view.data(), image + data_offset + entry.data_begin, bytes) != 0) {
      return "view of " + entry.name + " does not show the image's bytes";
    }
  }
  if (data_offset + cursor != size) return "accepted trailing bytes or a truncated data section";
  if (file.file_size() != size) return "file_size() differs from the image size";
  return "";
}

}  // namespace dsinfer::testing
