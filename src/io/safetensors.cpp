#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>
#include <tuple>

#include "core/error.h"
#include "io/strict_json.h"

namespace dsinfer {

namespace {

constexpr uint64_t kHeaderLengthBytes = 8;
constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the safetensors project's MAX_HEADER_SIZE
constexpr const char* kMetadataKey = "__metadata__";
constexpr const char* kIncomplete = "the download is probably incomplete";

struct ParsedHeader {
  uint64_t data_offset = 0;               // 8 + header length
  std::vector<SafetensorsEntry> entries;  // sorted by data offset
  std::map<std::string, std::string> metadata;
};

uint64_t read_little_endian_u64(const uint8_t* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

// A non-negative JSON integer (nlohmann stores those as number_unsigned); floats, negatives and numbers too
// large for 64 bits are rejected, as serde does for usize.
bool read_unsigned(const nlohmann::json& value, uint64_t* out) {
  if (!value.is_number_unsigned()) return false;
  *out = value.get<uint64_t>();
  return true;
}

std::string json_excerpt(const nlohmann::json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

SafetensorsEntry parse_entry(const std::string& label, const std::string& name, const nlohmann::json& info) {
  auto bad = [&](const auto&... parts) { fail(label, ": tensor \"", name, "\" ", parts...); };
  if (!info.is_object()) {
    bad("must map to an object with dtype, shape and data_offsets, got ", json_excerpt(info));
  }
  SafetensorsEntry entry;
  entry.name = name;

  auto dtype_field = info.find("dtype");
  if (dtype_field == info.end() || !dtype_field->is_string()) bad("has no string field \"dtype\"");
  const std::string& dtype_text = dtype_field->get_ref<const std::string&>();
  if (!parse_dtype(dtype_text, &entry.dtype)) bad("has unknown dtype \"", dtype_text, "\"");

  auto shape_field = info.find("shape");
  if (shape_field == info.end() || !shape_field->is_array()) bad("has no array field \"shape\"");
  for (const auto& extent_value : *shape_field) {
    uint64_t extent = 0;
    if (!read_unsigned(extent_value, &extent)) {
      bad("has a shape extent that is not a non-negative integer: ", json_excerpt(*shape_field));
    }
    if (extent > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      bad("has shape extent ", extent, ", which overflows a 64-bit signed size");
    }
    entry.shape.push_back(static_cast<int64_t>(extent));
  }

  auto offsets_field = info.find("data_offsets");
  if (offsets_field == info.end() || !offsets_field->is_array() || offsets_field->size() != 2 ||
      !read_unsigned((*offsets_field)[0], &entry.data_begin) ||
      !read_unsigned((*offsets_field)[1], &entry.data_end)) {
    bad("must have \"data_offsets\": [begin, end] with non-negative integers");
  }
  if (entry.data_end < entry.data_begin) {
    bad("has data_offsets [", entry.data_begin, ", ", entry.data_end, "] with end before begin");
  }

  // numel and byte size with overflow checks: a product that wraps around could otherwise match a small span.
  uint64_t byte_size = dtype_size(entry.dtype);
  bool overflow = false;
  for (int64_t extent : entry.shape) {
    overflow = overflow || __builtin_mul_overflow(byte_size, static_cast<uint64_t>(extent), &byte_size);
  }
  if (overflow) bad("has shape ", shape_to_string(entry.shape), " whose byte size overflows 64 bits");
  if (entry.data_end - entry.data_begin != byte_size) {
    bad("with dtype ", dtype_text, " and shape ", shape_to_string(entry.shape), " needs ", byte_size,
        " bytes, but data_offsets [", entry.data_begin, ", ", entry.data_end, "] span ",
        entry.data_end - entry.data_begin);
  }
  return entry;
}

ParsedHeader parse_header(const std::string& label, const uint8_t* bytes, uint64_t file_size) {
  if (file_size < kHeaderLengthBytes) {
    fail(label, ": file is ", file_size,
         " bytes, too short to hold the 8-byte header length; it is truncated (", kIncomplete, ")");
  }
  uint64_t header_length = read_little_endian_u64(bytes);
  if (header_length > kMaxHeaderBytes) {
    fail(label, ": header length ", header_length, " exceeds the safetensors limit of ", kMaxHeaderBytes,
         " bytes (not a safetensors file, or a corrupt one)");
  }
  if (header_length > file_size - kHeaderLengthBytes) {
    fail(label, ": header length ", header_length, " runs past the end of the file (", file_size,
         " bytes): the file is truncated (", kIncomplete, ") or is not a safetensors file");
  }
  std::string_view header_text(reinterpret_cast<const char*>(bytes + kHeaderLengthBytes), header_length);
  if (header_text.empty() || header_text.front() != '{') {
    fail(label, ": header does not start with '{' (not a safetensors file, or a corrupt one)");
  }
  // UTF-8, JSON syntax and repeated tensor names are checked here.
  nlohmann::json header = parse_strict_json(header_text, label + " header", "tensor name");
  if (!header.is_object()) fail(label, ": header is not a JSON object");

  ParsedHeader parsed;
  parsed.data_offset = kHeaderLengthBytes + header_length;
  for (const auto& [name, info] : header.items()) {
    if (name == kMetadataKey) {
      if (!info.is_object()) fail(label, ": \"__metadata__\" must be an object of strings");
      for (const auto& [key, value] : info.items()) {
        if (!value.is_string()) {
          fail(label, ": \"__metadata__\" value of \"", key, "\" must be a string, got ",
               json_excerpt(value));
        }
        parsed.metadata.emplace(key, value.get<std::string>());
      }
      continue;
    }
    parsed.entries.push_back(parse_entry(label, name, info));
  }

  // As the reference implementation does: sorted by offsets, the tensors must tile the data section from 0
  // with no gap or overlap, and the data section must end exactly at the end of the file.
  std::sort(parsed.entries.begin(), parsed.entries.end(),
            [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
              return std::tie(a.data_begin, a.data_end, a.name) < std::tie(b.data_begin, b.data_end, b.name);
            });
  uint64_t cursor = 0;
  const SafetensorsEntry* previous = nullptr;
  for (const SafetensorsEntry& entry : parsed.entries) {
    if (entry.data_begin != cursor) {
      std::string where =
          previous ? detail::concat("the previous tensor \"", previous->name, "\" ends at ", cursor)
                   : std::string("the data section starts at 0");
      fail(label, ": tensor \"", entry.name, "\" has data_offsets [", entry.data_begin, ", ", entry.data_end,
           "] but ", where, " (", entry.data_begin > cursor ? "gap" : "overlap",
           "): offsets must be contiguous with no gap or overlap");
    }
    cursor = entry.data_end;
    previous = &entry;
  }
  uint64_t data_size = file_size - parsed.data_offset;
  if (cursor > data_size) {
    auto cut = std::find_if(parsed.entries.begin(), parsed.entries.end(),
                            [&](const SafetensorsEntry& entry) { return entry.data_end > data_size; });
    fail(label, ": truncated, ", kIncomplete, ": tensor \"", cut->name, "\" ends at data byte ",
         cut->data_end, " but the file holds only ", data_size, " data bytes (the header describes ", cursor,
         ")");
  }
  if (cursor < data_size) {
    fail(label, ": ", data_size - cursor, " trailing bytes after the last tensor (the header describes ",
         cursor, " data bytes, the file holds ", data_size, ")");
  }
  return parsed;
}

}  // namespace

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) fail("cannot open ", path, ": ", std::strerror(errno));
  struct stat status {};
  if (::fstat(descriptor, &status) != 0) {
    int saved = errno;
    ::close(descriptor);
    fail("cannot read ", path, ": ", std::strerror(saved));
  }
  if (!S_ISREG(status.st_mode)) {
    ::close(descriptor);
    fail("cannot read ", path, ": not a regular file");
  }
  std::shared_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  file->size_ = static_cast<uint64_t>(status.st_size);
  if (file->size_ > 0) {
    // Read-only private mapping: views point straight into the page cache and nothing is read until touched.
    void* mapping = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, descriptor, 0);
    int saved = errno;
    ::close(descriptor);
    if (mapping == MAP_FAILED) {
      fail("cannot map ", path, " (", file->size_, " bytes): ", std::strerror(saved));
    }
    file->base_ = static_cast<const uint8_t*>(mapping);
    file->mapped_ = true;
  } else {
    ::close(descriptor);
  }
  file->load_header();
  file->self_ = file;
  return file;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::parse(const std::string& label, const void* bytes,
                                                        size_t size) {
  std::shared_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = label;
  file->owned_.assign(static_cast<const uint8_t*>(bytes), static_cast<const uint8_t*>(bytes) + size);
  file->base_ = file->owned_.data();
  file->size_ = size;
  file->load_header();
  file->self_ = file;
  return file;
}

void SafetensorsFile::load_header() {
  ParsedHeader header = parse_header(path_, base_, size_);
  data_offset_ = header.data_offset;
  entries_ = std::move(header.entries);
  metadata_ = std::move(header.metadata);
  for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].name, i);
}

SafetensorsFile::~SafetensorsFile() {
  if (mapped_) ::munmap(const_cast<uint8_t*>(base_), size_);
}

bool SafetensorsFile::contains(const std::string& name) const {
  return index_.count(name) != 0;
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  auto found = index_.find(name);
  if (found == index_.end()) fail("tensor \"", name, "\" is not in ", path_);
  return entries_[found->second];
}

Tensor SafetensorsFile::tensor(const std::string& name) const {
  const SafetensorsEntry& info = entry(name);
  // The mapping is read-only: the view must not be written through (it would fault).
  auto* data = const_cast<uint8_t*>(base_ + data_offset_ + info.data_begin);
  return Tensor::view(data, info.shape, info.dtype, Device::kCpu, self_.lock());
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // Widest dtype first, then by name, as the reference writer orders them: every tensor then starts at a
  // multiple of its element size, given the 8-byte aligned header.
  std::vector<const std::pair<std::string, Tensor>*> ordered;
  for (const auto& item : tensors) {
    DSINFER_CHECK(item.first != kMetadataKey, "cannot write ", path,
                  ": \"__metadata__\" is not a tensor name");
    DSINFER_CHECK(item.second.defined() || item.second.numel() == 0, "cannot write ", path, ": tensor \"",
                  item.first, "\" is undefined");
    DSINFER_CHECK(item.second.device() == Device::kCpu, "cannot write ", path, ": tensor \"", item.first,
                  "\" is on ", device_name(item.second.device()), ", copy it to the CPU first");
    ordered.push_back(&item);
  }
  std::sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
    size_t size_a = dtype_size(a->second.dtype()), size_b = dtype_size(b->second.dtype());
    return size_a != size_b ? size_a > size_b : a->first < b->first;
  });
  for (size_t i = 1; i < ordered.size(); ++i) {
    DSINFER_CHECK(ordered[i]->first != ordered[i - 1]->first, "cannot write ", path, ": tensor \"",
                  ordered[i]->first, "\" is given twice");
  }

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  uint64_t offset = 0;
  for (const auto* item : ordered) {
    uint64_t bytes = item->second.nbytes();
    header[item->first] = {{"dtype", std::string(dtype_name(item->second.dtype()))},
                           {"shape", item->second.shape()},
                           {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');  // pad with spaces to 8-byte alignment

  std::FILE* stream = std::fopen(path.c_str(), "wb");
  if (!stream) fail("cannot create ", path, ": ", std::strerror(errno));
  uint8_t length_bytes[8];
  uint64_t length = header_text.size();
  for (int i = 0; i < 8; ++i) length_bytes[i] = static_cast<uint8_t>(length >> (8 * i));
  bool ok = std::fwrite(length_bytes, 1, 8, stream) == 8 &&
            std::fwrite(header_text.data(), 1, header_text.size(), stream) == header_text.size();
  for (const auto* item : ordered) {
    size_t bytes = item->second.nbytes();
    ok = ok && (bytes == 0 || std::fwrite(item->second.data(), 1, bytes, stream) == bytes);
  }
  int saved = errno;
  ok = (std::fclose(stream) == 0) && ok;
  if (!ok) {
    std::remove(path.c_str());
    fail("cannot write ", path, ": ", std::strerror(saved ? saved : errno));
  }
}

}  // namespace dsinfer
