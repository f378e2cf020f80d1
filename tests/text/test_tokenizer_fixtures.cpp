// Every row of the HF-made golden files: tokenizer-encode.jsonl and tokenizer-decode.jsonl.
#include <gtest/gtest.h>

#include "text/tokenizer.h"
#include "text_test_support.h"

namespace dsinfer::text {
namespace {

using testing::deepseek_tokenizer;
using testing::fixtures_dir;
using testing::read_jsonl;

TEST(TokenizerFixtures, EncodeMatchesEveryRow) {
  const auto rows = read_jsonl(fixtures_dir() + "/tokenizer-encode.jsonl");
  ASSERT_EQ(rows.size(), 251u);
  for (const auto& row : rows) {
    const std::string text = row["text"];
    const auto expected = row["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(deepseek_tokenizer().encode(text), expected) << "text: " << row["text"].dump();
  }
}

TEST(TokenizerFixtures, DecodeMatchesEveryRow) {
  const auto rows = read_jsonl(fixtures_dir() + "/tokenizer-decode.jsonl");
  ASSERT_EQ(rows.size(), 200u);
  for (const auto& row : rows) {
    const auto ids = row["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(deepseek_tokenizer().decode(ids, false), row["text"].get<std::string>()) << row["ids"].dump();
    EXPECT_EQ(deepseek_tokenizer().decode(ids, true), row["text_skip_special"].get<std::string>())
        << row["ids"].dump();
  }
}

TEST(TokenizerFixtures, EncodeOfDecodedFixtureTextRoundTrips) {
  // Decoding then encoding valid text gives text back (ids may differ: BPE is not injective).
  for (const auto& row : read_jsonl(fixtures_dir() + "/tokenizer-encode.jsonl")) {
    const std::string text = row["text"];
    EXPECT_EQ(deepseek_tokenizer().decode(deepseek_tokenizer().encode(text), false), text);
  }
}

}  // namespace
}  // namespace dsinfer::text
