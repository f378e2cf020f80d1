// Runs the real `dsinfer logits` binary and checks the file it writes against the golden logits, and that a
// bad id is refused with a message naming it.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fixture_runs.h"

namespace dsinfer {
namespace {

using namespace model_testing;

std::string join_ids(const std::vector<int32_t>& ids) {
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) text += (i ? "," : "") + std::to_string(ids[i]);
  return text;
}

class LogitsCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("dsinfer_logits_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
                  std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::filesystem::create_directories(directory_);
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }
  int run(const std::string& arguments) {
    std::string command = std::string(DSINFER_BINARY) + " logits " + arguments + " 2>" + (directory_ / "stderr").string();
    return std::system(command.c_str());
  }
  std::string stderr_text() {
    std::ifstream stream(directory_ / "stderr");
    std::stringstream text;
    text << stream.rdbuf();
    return text.str();
  }
  std::filesystem::path directory_;
};

TEST_F(LogitsCommand, WritesTheGoldenLogitsInChunks) {
  Reference reference("dsv2-tiny-bf16");
  std::vector<int32_t> ids = reference.ids("sequence.2");
  for (const char* chunk : {"", " --chunk 7", " --chunk 1"}) {
    std::string out = (directory_ / "logits.safetensors").string();
    ASSERT_EQ(run("--model " + fixture_dir("dsv2-tiny-bf16") + " --ids " + join_ids(ids) + " --out " + out + chunk +
                  " --threads 2"),
              0)
        << stderr_text();
    auto file = SafetensorsFile::open(out);
    ASSERT_EQ(file->entries().size(), 1u);
    Tensor logits = file->tensor("logits");
    ASSERT_EQ(logits.dtype(), DType::kF32);
    EXPECT_LE(max_of(row_errors(logits, reference.tensor("logits.2"))), 1e-4) << "chunk option '" << chunk << "'";
  }
}

TEST_F(LogitsCommand, RefusesIdsOutsideTheVocabularyAndMalformedLists) {
  std::string model = " --model " + fixture_dir("dsv3-tiny-bf16") + " --out " + (directory_ / "x").string();
  EXPECT_NE(run("--ids 3,512,4" + model), 0);
  EXPECT_NE(stderr_text().find("token id 512 (item 1) is outside the vocabulary [0, 512)"), std::string::npos)
      << stderr_text();
  EXPECT_NE(run("--ids 3,,4" + model), 0);
  EXPECT_NE(stderr_text().find("item 1"), std::string::npos) << stderr_text();
  EXPECT_NE(run("--ids 3,-4" + model), 0);
  EXPECT_FALSE(std::filesystem::exists(directory_ / "x"));
}

}  // namespace
}  // namespace dsinfer
