// Tokenizer properties of the DeepSeek-V3 files, BPE merge order on a small hand-made vocabulary, and load
// errors that name the file and field.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "core/error.h"
#include "text/byte_level.h"
#include "text/tokenizer.h"
#include "text_test_support.h"

namespace dsinfer::text {
namespace {

using testing::deepseek_tokenizer;

TEST(Tokenizer, DeepSeekV3Properties) {
  const Tokenizer& tokenizer = deepseek_tokenizer();
  EXPECT_EQ(tokenizer.bos_id(), 0);
  EXPECT_EQ(tokenizer.eos_id(), 1);
  EXPECT_EQ(tokenizer.bos_token(), "<｜begin▁of▁sentence｜>");
  EXPECT_TRUE(tokenizer.add_bos());
  EXPECT_EQ(tokenizer.vocab_size(), 128815u);
  EXPECT_EQ(tokenizer.token_id("<｜User｜>"), 128803);
  EXPECT_EQ(tokenizer.token_id("Hello"), 19923);
  EXPECT_EQ(tokenizer.token_id("no such token"), std::nullopt);
  EXPECT_TRUE(tokenizer.is_special(0));
  EXPECT_TRUE(tokenizer.is_special(128000));   // <｜place▁holder▁no▁0｜>
  EXPECT_FALSE(tokenizer.is_special(128803));  // <｜User｜> is an added token, not special
  EXPECT_FALSE(tokenizer.is_special(19923));
  EXPECT_FALSE(tokenizer.is_special(-1));
  // Ids past the tokenizer (the model's embedding has 129280 rows) decode to nothing, as in HF.
  const std::vector<int32_t> unknown = {129000, -5, 19923};
  EXPECT_EQ(tokenizer.decode(unknown, false), "Hello");
}

TEST(Tokenizer, EncodePlainDoesNotMatchAddedTokens) {
  const Tokenizer& tokenizer = deepseek_tokenizer();
  const std::string text = "a<｜end▁of▁sentence｜>b";
  const std::vector<int32_t> matched = tokenizer.encode(text), plain = tokenizer.encode_plain(text);
  EXPECT_NE(std::find(matched.begin(), matched.end(), 1), matched.end());
  EXPECT_EQ(std::find(plain.begin(), plain.end(), 1), plain.end());
  EXPECT_EQ(tokenizer.decode(plain, false), text);
}

TEST(Tokenizer, RejectsInvalidUtf8) {
  try {
    deepseek_tokenizer().encode("ok\xC3(");
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("not valid UTF-8 (byte offset 2)"), std::string::npos)
        << error.what();
  }
}

TEST(Tokenizer, ConcurrentEncodesAgree) {
  const Tokenizer& tokenizer = deepseek_tokenizer();
  const auto rows = testing::read_jsonl(testing::fixtures_dir() + "/tokenizer-encode.jsonl");
  std::vector<std::thread> threads;
  std::atomic<int> mismatches = 0;
  for (int thread = 0; thread < 4; ++thread) {
    threads.emplace_back([&] {
      for (int repeat = 0; repeat < 5; ++repeat) {
        for (const auto& row : rows) {
          if (tokenizer.encode(row["text"].get<std::string>()) != row["ids"].get<std::vector<int32_t>>())
            ++mismatches;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches, 0);
}

// A model folder with a small byte-level vocabulary: the 256 bytes (id = byte value) plus `merged` tokens.
class SmallModel {
 public:
  SmallModel(const std::vector<std::string>& merges, const std::function<void(nlohmann::json&)>& edit = {})
      : directory_(std::filesystem::temp_directory_path() /
                   ("dsinfer_text_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++))) {
    std::filesystem::create_directories(directory_);
    nlohmann::json vocab = nlohmann::json::object();
    for (int byte = 0; byte < 256; ++byte)
      vocab[std::string(byte_level_spelling(static_cast<unsigned char>(byte)))] = byte;
    int next_id = 256;
    for (const std::string& merge : merges) {
      const size_t space = merge.find(' ');
      const std::string merged = merge.substr(0, space) + merge.substr(space + 1);
      if (!vocab.contains(merged)) vocab[merged] = next_id++;
    }
    static const nlohmann::json deepseek =
        nlohmann::json::parse(std::ifstream(testing::model_dir() + "/tokenizer.json"));
    nlohmann::json root = {
        {"version", "1.0"},
        {"added_tokens", nlohmann::json::array({{{"id", next_id}, {"content", "<eos>"}, {"special", true}}})},
        {"normalizer", nullptr},
        {"pre_tokenizer", deepseek["pre_tokenizer"]},
        {"post_processor", deepseek["post_processor"]},
        {"decoder", deepseek["decoder"]},
        {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
    nlohmann::json config = {{"add_bos_token", false}, {"eos_token", "<eos>"}};
    if (edit) edit(root);
    std::ofstream(directory_ / "tokenizer.json") << root.dump();
    std::ofstream(directory_ / "tokenizer_config.json") << config.dump();
  }
  ~SmallModel() { std::filesystem::remove_all(directory_); }
  std::string path() const { return directory_.string(); }
  Tokenizer load() const { return Tokenizer::load(path()); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path directory_;
};

TEST(Tokenizer, BpeMergesLowestRankFirstAndLeftmostOnTies) {
  // Ranks: "b c" (0) before "a b" (1): "abc" -> "a" + "bc".
  const SmallModel ranked({"b c", "a b", "ab c"});
  const Tokenizer tokenizer = ranked.load();
  EXPECT_EQ(tokenizer.encode("abc"), (std::vector<int32_t>{'a', *tokenizer.token_id("bc")}));
  EXPECT_EQ(tokenizer.encode("ab"), (std::vector<int32_t>{*tokenizer.token_id("ab")}));
  // Equal pairs merge from the left: "aaa" -> "aa" + "a", and "aaaa" -> "aa" + "aa".
  const SmallModel repeated({"a a"});
  const Tokenizer pairs = repeated.load();
  const int32_t aa = *pairs.token_id("aa");
  EXPECT_EQ(pairs.encode("aaa"), (std::vector<int32_t>{aa, 'a'}));
  EXPECT_EQ(pairs.encode("aaaa"), (std::vector<int32_t>{aa, aa}));
  EXPECT_EQ(pairs.eos_id(), 257);
  EXPECT_FALSE(pairs.add_bos());
}

std::string load_error(const SmallModel& model) {
  try {
    model.load();
  } catch (const Error& error) {
    return error.what();
  }
  return "no error";
}

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

TEST(Tokenizer, LoadErrorsNameFileAndField) {
  try {
    Tokenizer::load("/nonexistent/model");
    FAIL();
  } catch (const Error& error) {
    EXPECT_CONTAINS(error.what(), "cannot open /nonexistent/model/tokenizer.json");
  }
  EXPECT_CONTAINS(load_error(SmallModel({},
                                        [](nlohmann::json& root) {
                                          root["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] =
                                              "\\d+";
                                        })),
                  "tokenizer.json: pre_tokenizer is not supported (step 0 is not the expected Split regex)");
  EXPECT_CONTAINS(
      load_error(SmallModel({}, [](nlohmann::json& root) { root["model"]["merges"] = {"a zz"}; })),
      "model.merges[0] 'a zz' uses a token that is not in model.vocab");
  EXPECT_CONTAINS(
      load_error(SmallModel({}, [](nlohmann::json& root) { root["added_tokens"][0]["id"] = 999; })),
      "added_tokens[0] \"<eos>\" has id 999 but Hugging Face tokenizers gives it id 256");
  EXPECT_CONTAINS(
      load_error(SmallModel({}, [](nlohmann::json& root) { root["model"]["byte_fallback"] = true; })),
      "model.byte_fallback is not supported");
  EXPECT_CONTAINS(load_error(SmallModel({},
                                        [](nlohmann::json& root) {
                                          root["normalizer"] = {{"type", "NFC"}};
                                        })),
                  "normalizer is not supported");
  EXPECT_CONTAINS(load_error(SmallModel({}, [](nlohmann::json& root) { root["model"]["vocab"].erase("Ā"); })),
                  "model.vocab has no token for byte 0");
}

}  // namespace
}  // namespace dsinfer::text
