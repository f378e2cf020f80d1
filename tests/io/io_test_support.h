// Helpers for the io tests: temporary folders, raw safetensors images, copies of fixture checkpoints.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"

namespace dsinfer::testing {

inline std::string fixture_folder(const std::string& model) {
  return std::string(DSINFER_TESTDATA_DIR) + "/fixtures/" + model;
}

inline const std::vector<std::string>& fixture_models() {
  static const std::vector<std::string> models = {"dsv3-tiny-bf16", "dsv3-tiny-fp8", "dsv2-lite-tiny-bf16",
                                                  "dsv2-tiny-bf16", "dsv3-tiny-fullvocab"};
  return models;
}

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it when the object goes away.
class TemporaryFolder {
 public:
  TemporaryFolder() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/dsinfer-io-test-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (!mkdtemp(buffer.data())) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = buffer.data();
  }
  ~TemporaryFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TemporaryFolder(const TemporaryFolder&) = delete;
  TemporaryFolder& operator=(const TemporaryFolder&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  std::ostringstream contents;
  contents << stream.rdbuf();
  return contents.str();
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream stream(path, std::ios::binary | std::ios::trunc);
  stream.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// 8-byte little-endian length + header text + `data_bytes` bytes of data (value = index & 0xff).
inline std::string safetensors_image(const std::string& header, size_t data_bytes) {
  std::string image(8, '\0');
  uint64_t length = header.size();
  for (int i = 0; i < 8; ++i) image[i] = static_cast<char>(length >> (8 * i));
  image += header;
  for (size_t i = 0; i < data_bytes; ++i) image.push_back(static_cast<char>(i & 0xff));
  return image;
}

// The message of the dsinfer::Error `body` throws ("" and a test failure when it throws none).
template <typename Body>
std::string error_message(Body&& body) {
  try {
    body();
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected a dsinfer::Error";
  return "";
}

}  // namespace dsinfer::testing
