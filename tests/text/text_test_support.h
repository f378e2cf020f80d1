// Shared helpers for the text tests: the embedded model's tokenizer (loaded once) and fixture files.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "text/tokenizer.h"

namespace dsinfer::text::testing {

inline std::string fixtures_dir() {
  return DSINFER_TESTDATA_DIR "/fixtures";
}
inline std::string model_dir() {
  return fixtures_dir() + "/dsv3-tiny-fullvocab";
}

inline const Tokenizer& deepseek_tokenizer() {
  static const Tokenizer tokenizer = Tokenizer::load(model_dir());
  return tokenizer;
}

inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream file(path);
  EXPECT_TRUE(file.is_open()) << "cannot open " << path;
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(file, line)) {
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  }
  return rows;
}

}  // namespace dsinfer::text::testing
