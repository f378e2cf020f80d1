#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "io/checkpoint.h"
#include "io/checkpoint_copies.h"

namespace dsinfer {
namespace {

using ::testing::AllOf;
using testing::error_message;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr const char* kModel = "dsv2-tiny-bf16";
constexpr const char* kIncomplete = "the download is probably incomplete";

TEST(Checkpoint, OpensEveryFixtureAndAgreesWithItsIndex) {
  for (const std::string& model : testing::fixture_models()) {
    SCOPED_TRACE(model);
    std::string folder = testing::fixture_folder(model);
    Checkpoint checkpoint = Checkpoint::open(folder);
    nlohmann::json index = testing::read_index(folder);
    std::vector<std::string> listed;
    for (const auto& item : index["weight_map"].items())
      listed.push_back(item.key());  // sorted, as json keys are
    EXPECT_EQ(checkpoint.tensor_names(), listed);
    EXPECT_EQ(checkpoint.total_bytes(), index["metadata"]["total_size"].get<uint64_t>());
    std::string shard = folder + "/model-00001-of-00001.safetensors";
    EXPECT_EQ(checkpoint.shard_paths(), std::vector<std::string>{shard});
    EXPECT_EQ(checkpoint.file_of("model.norm.weight"), shard);
  }
}

TEST(Checkpoint, TensorChecksTheExpectedShapeAndDtype) {
  std::string folder = testing::fixture_folder("dsv3-tiny-fp8");
  Checkpoint checkpoint = Checkpoint::open(folder);
  std::string shard = folder + "/model-00001-of-00001.safetensors";
  const std::string name = "model.layers.1.self_attn.q_b_proj.weight";
  Tensor weight = checkpoint.tensor(name, {384, 192}, DType::kF8E4M3);
  Tensor direct = SafetensorsFile::open(shard)->tensor(name);
  EXPECT_EQ(std::memcmp(weight.data(), direct.data(), direct.nbytes()), 0);
  EXPECT_EQ(checkpoint.entry(name).dtype, DType::kF8E4M3);

  EXPECT_EQ(error_message([&] {
              checkpoint.tensor(name, {384, 192}, DType::kBF16);
            }),
            "tensor \"" + name + "\" in " + shard +
                " has dtype F8_E4M3, expected BF16 (is the checkpoint for this config?)");
  EXPECT_EQ(error_message([&] {
              checkpoint.tensor(name, {192, 384}, DType::kF8E4M3);
            }),
            "tensor \"" + name + "\" in " + shard +
                " has shape [384, 192], expected [192, 384] (is the checkpoint for this config?)");
  EXPECT_THAT(
      error_message([&] { checkpoint.tensor("model.layers.7.mlp.gate.weight"); }),
      AllOf(HasSubstr("\"model.layers.7.mlp.gate.weight\""), HasSubstr("model.safetensors.index.json")));
}

TEST(Checkpoint, OpensShardedAndSingleFileLayouts) {
  testing::TemporaryFolder sharded;
  testing::copy_fixture_config(kModel, sharded.path());
  auto tensors = testing::fixture_tensors(kModel);
  testing::write_sharded_checkpoint(sharded.path(), tensors, 3);
  Checkpoint checkpoint = Checkpoint::open(sharded.path());
  EXPECT_THAT(checkpoint.shard_paths(), SizeIs(3));
  EXPECT_EQ(checkpoint.tensor_names(), Checkpoint::open(testing::fixture_folder(kModel)).tensor_names());
  const auto& [last_name, last_tensor] = tensors.back();
  EXPECT_EQ(checkpoint.file_of(last_name), sharded.file("model-00003-of-00003.safetensors"));
  EXPECT_EQ(std::memcmp(checkpoint.tensor(last_name).data(), last_tensor.data(), last_tensor.nbytes()), 0);

  testing::TemporaryFolder single;
  testing::copy_fixture_config(kModel, single.path());
  write_safetensors(single.file("model.safetensors"), tensors);
  Checkpoint single_file = Checkpoint::open(single.path());
  EXPECT_EQ(single_file.tensor_names(), checkpoint.tensor_names());
  EXPECT_EQ(single_file.total_bytes(), checkpoint.total_bytes());
  EXPECT_THAT(error_message([&] { single_file.entry("absent"); }),
              AllOf(HasSubstr("\"absent\""), HasSubstr(single.file("model.safetensors"))));
}

class BrokenCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::copy_fixture_config(kModel, folder_.path());
    testing::write_sharded_checkpoint(folder_.path(), testing::fixture_tensors(kModel), 2);
  }
  std::string shard(int number) const {
    return folder_.file(number == 1 ? "model-00001-of-00002.safetensors"
                                    : "model-00002-of-00002.safetensors");
  }
  std::string index_path() const { return folder_.file("model.safetensors.index.json"); }
  std::string open_error() const {
    return error_message([&] { Checkpoint::open(folder_.path()); });
  }

  testing::TemporaryFolder folder_;
};

TEST_F(BrokenCheckpoint, MissingShard) {
  std::filesystem::remove(shard(2));
  EXPECT_THAT(open_error(), AllOf(HasSubstr("shard " + shard(2) + " is missing"), HasSubstr(index_path()),
                                  HasSubstr(kIncomplete)));
}

TEST_F(BrokenCheckpoint, TruncatedShard) {
  std::string last_tensor = SafetensorsFile::open(shard(2))->entries().back().name;
  std::filesystem::resize_file(shard(2), std::filesystem::file_size(shard(2)) - 1);  // cuts the last tensor
  EXPECT_THAT(open_error(), AllOf(HasSubstr(shard(2)), HasSubstr("truncated"), HasSubstr(kIncomplete),
                                  HasSubstr("tensor \"" + last_tensor + "\" ends at")));
}

TEST_F(BrokenCheckpoint, TensorInIndexButNotInShard) {
  nlohmann::json index = testing::read_index(folder_.path());
  index["weight_map"]["model.layers.9.mlp.gate.weight"] = "model-00001-of-00002.safetensors";
  testing::write_index(folder_.path(), index);
  EXPECT_EQ(open_error(), "tensor \"model.layers.9.mlp.gate.weight\" is listed in " + index_path() +
                              " under model-00001-of-00002.safetensors but " + shard(1) +
                              " does not contain it: " + kIncomplete);
}

TEST_F(BrokenCheckpoint, TensorInShardButNotInIndex) {
  nlohmann::json index = testing::read_index(folder_.path());
  index["weight_map"].erase("model.norm.weight");
  testing::write_index(folder_.path(), index);
  EXPECT_THAT(open_error(), AllOf(HasSubstr("tensor \"model.norm.weight\" in "),
                                  HasSubstr("is not listed in " + index_path())));
}

TEST_F(BrokenCheckpoint, TensorIndexedUnderTheWrongShard) {
  nlohmann::json index = testing::read_index(folder_.path());
  std::string name = "model.norm.weight";
  std::string actual = index["weight_map"][name];
  std::string wrong = actual == "model-00001-of-00002.safetensors" ? "model-00002-of-00002.safetensors"
                                                                   : "model-00001-of-00002.safetensors";
  index["weight_map"][name] = wrong;
  testing::write_index(folder_.path(), index);
  // Absent where the index says, and present where it does not.
  EXPECT_THAT(open_error(), AllOf(HasSubstr("has 2 problems"), HasSubstr("under " + wrong + " but"),
                                  HasSubstr("\"" + name + "\" in " + folder_.file(actual) + " is listed in " +
                                            index_path() + " under another shard, " + wrong)));
}

TEST_F(BrokenCheckpoint, MissingConfig) {
  std::filesystem::remove(folder_.file("config.json"));
  EXPECT_THAT(open_error(), AllOf(HasSubstr("no config.json in " + folder_.path()), HasSubstr(kIncomplete)));
}

TEST_F(BrokenCheckpoint, NoWeightsAtAll) {
  std::filesystem::remove(index_path());
  EXPECT_THAT(open_error(),
              AllOf(HasSubstr("no model.safetensors.index.json or model.safetensors in " + folder_.path()),
                    HasSubstr(kIncomplete)));
}

TEST_F(BrokenCheckpoint, ShardNamesMustStayInTheFolder) {
  nlohmann::json index = testing::read_index(folder_.path());
  index["weight_map"]["model.norm.weight"] = "../model-00001-of-00002.safetensors";
  testing::write_index(folder_.path(), index);
  EXPECT_THAT(open_error(), AllOf(HasSubstr(index_path()), HasSubstr("\"model.norm.weight\""),
                                  HasSubstr("must be a plain file name")));
}

TEST_F(BrokenCheckpoint, IndexWithARepeatedTensorOrBadJson) {
  testing::write_file(index_path(), R"({"weight_map": {"a": "model-00001-of-00002.safetensors",
                                                       "a": "model-00002-of-00002.safetensors"}})");
  EXPECT_THAT(open_error(), AllOf(HasSubstr(index_path()), HasSubstr("key \"a\" appears more than once")));
  testing::write_file(index_path(), R"({"weight_map": )");
  EXPECT_THAT(open_error(), AllOf(HasSubstr(index_path()), HasSubstr("not valid JSON")));
  testing::write_file(index_path(), R"({"metadata": {}})");
  EXPECT_THAT(open_error(), AllOf(HasSubstr(index_path()), HasSubstr("no \"weight_map\"")));
}

TEST_F(BrokenCheckpoint, EveryProblemIsListedNotJustTheFirst) {
  std::filesystem::remove(shard(2));
  std::filesystem::remove(folder_.file("config.json"));
  nlohmann::json index = testing::read_index(folder_.path());
  index["weight_map"]["model.extra.weight"] = "model-00001-of-00002.safetensors";
  testing::write_index(folder_.path(), index);

  std::vector<std::string> problems;
  Checkpoint checkpoint = Checkpoint::open_collecting(folder_.path(), &problems);
  ASSERT_THAT(problems, SizeIs(3));
  EXPECT_THAT(problems[0], HasSubstr("no config.json"));
  EXPECT_THAT(problems[1], HasSubstr("\"model.extra.weight\""));  // shards are visited in name order
  EXPECT_THAT(problems[2], HasSubstr(shard(2) + " is missing"));
  // What is usable stays open: the first shard's tensors. The rest are known to be unavailable.
  EXPECT_TRUE(checkpoint.contains("model.embed_tokens.weight"));
  EXPECT_THAT(checkpoint.shard_paths(), SizeIs(1));
  size_t second_shard_tensors = 0;
  for (const auto& item : index["weight_map"].items())
    second_shard_tensors += item.value() == "model-00002-of-00002.safetensors";
  EXPECT_THAT(checkpoint.unavailable_tensors(), SizeIs(second_shard_tensors + 1));
  EXPECT_TRUE(checkpoint.unavailable_tensors().count("model.extra.weight"));
  EXPECT_FALSE(checkpoint.contains("model.extra.weight"));

  std::string message = open_error();
  EXPECT_THAT(message, AllOf(HasSubstr("has 3 problems"), HasSubstr("no config.json"),
                             HasSubstr("\"model.extra.weight\""), HasSubstr(" is missing")));
}

TEST(Checkpoint, MissingFolder) {
  EXPECT_EQ(error_message([] { Checkpoint::open("/nonexistent/dsinfer-model"); }),
            "model folder /nonexistent/dsinfer-model does not exist");
}

}  // namespace
}  // namespace dsinfer
