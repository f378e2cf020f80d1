// Property tests of streaming decode: for random id sequences (with many ids whose bytes are pieces of UTF-8
// characters, or invalid on their own), pushing ids one at a time emits exactly decode(all ids), and nothing
// emitted is ever taken back (each push only appends).
#include <gtest/gtest.h>

#include <random>

#include "text/incremental_detokenizer.h"
#include "text/tokenizer.h"
#include "text/utf8.h"
#include "text_test_support.h"

namespace dsinfer::text {
namespace {

using testing::deepseek_tokenizer;

// Ids whose bytes are not valid UTF-8 on their own: lone lead bytes, continuation bytes, partial characters.
std::vector<int32_t> partial_character_ids(const Tokenizer& tokenizer) {
  std::vector<int32_t> ids;
  for (int32_t id = 0; id < int32_t(tokenizer.vocab_size()); ++id) {
    const std::string_view bytes = tokenizer.token_bytes(id);
    if (!bytes.empty() && find_invalid_utf8(bytes) != std::string_view::npos) ids.push_back(id);
  }
  return ids;
}

void check_stream(const Tokenizer& tokenizer, const std::vector<int32_t>& ids, bool skip_special_tokens) {
  const std::string full_text = tokenizer.decode(ids, skip_special_tokens);
  IncrementalDetokenizer detokenizer(tokenizer, skip_special_tokens);
  std::string streamed;
  for (int32_t id : ids) {
    const std::string piece = detokenizer.push(id);
    ASSERT_EQ(find_invalid_utf8(piece), std::string_view::npos);
    streamed += piece;
    // Final means no later id changes it: what has been emitted so far is a prefix of the whole decode.
    ASSERT_TRUE(full_text.starts_with(streamed));
  }
  streamed += detokenizer.finish();
  ASSERT_EQ(streamed, full_text);
}

TEST(IncrementalDetokenizer, PartialCharacterIdsExistInTheVocabulary) {
  // The property test below is only meaningful if the vocabulary has such ids (byte-level BPE does).
  EXPECT_GT(partial_character_ids(deepseek_tokenizer()).size(), 1000u);
}

TEST(IncrementalDetokenizer, RandomSequencesConcatenateToDecode) {
  const Tokenizer& tokenizer = deepseek_tokenizer();
  const std::vector<int32_t> partial_ids = partial_character_ids(tokenizer);
  std::mt19937 random(20260101);
  std::uniform_int_distribution<int32_t> any_id(0,
                                                int32_t(tokenizer.vocab_size()) + 100);  // some unknown ids
  std::uniform_int_distribution<size_t> pick_partial(0, partial_ids.size() - 1);
  std::uniform_int_distribution<int> coin(0, 99);
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<int32_t> ids(1 + random() % 40);
    for (int32_t& id : ids) id = coin(random) < 60 ? partial_ids[pick_partial(random)] : any_id(random);
    check_stream(tokenizer, ids, trial % 2 == 0);
  }
}

TEST(IncrementalDetokenizer, StreamingMatchesDecodeOnEncodedText) {
  const Tokenizer& tokenizer = deepseek_tokenizer();
  for (const auto& row : testing::read_jsonl(testing::fixtures_dir() + "/tokenizer-encode.jsonl")) {
    check_stream(tokenizer, row["ids"].get<std::vector<int32_t>>(), false);
  }
}

TEST(IncrementalDetokenizer, HoldsASplitCharacterUntilItCompletes) {
  const Tokenizer& tokenizer = deepseek_tokenizer();
  // "你" is E4 BD A0: the ids of those single bytes.
  std::vector<int32_t> lead, middle, last;
  for (int32_t id = 0; id < int32_t(tokenizer.vocab_size()); ++id) {
    const std::string_view bytes = tokenizer.token_bytes(id);
    if (bytes == "\xE4") lead.push_back(id);
    if (bytes == "\xBD") middle.push_back(id);
    if (bytes == "\xA0") last.push_back(id);
  }
  ASSERT_EQ(lead.size(), 1u);
  ASSERT_EQ(middle.size(), 1u);
  ASSERT_EQ(last.size(), 1u);
  IncrementalDetokenizer detokenizer(tokenizer, false);
  EXPECT_EQ(detokenizer.push(lead[0]), "");
  EXPECT_EQ(detokenizer.push(middle[0]), "");
  EXPECT_EQ(detokenizer.push(last[0]), "你");
  // A lead byte followed by ASCII is ill-formed at once: U+FFFD, then the letter.
  EXPECT_EQ(detokenizer.push(lead[0]), "");
  EXPECT_EQ(detokenizer.push(tokenizer.encode("A")[0]),
            "\xEF\xBF\xBD"
            "A");
  // An unfinished character at the end becomes one U+FFFD.
  EXPECT_EQ(detokenizer.push(lead[0]), "");
  EXPECT_EQ(detokenizer.push(middle[0]), "");
  EXPECT_EQ(detokenizer.finish(), "\xEF\xBF\xBD");
}

TEST(IncrementalDetokenizer, SkipsSpecialTokensOnlyWhenAsked) {
  const Tokenizer& tokenizer = deepseek_tokenizer();
  const int32_t eos = tokenizer.eos_id();
  const int32_t user = *tokenizer.token_id("<｜User｜>");  // an added token that is not special
  IncrementalDetokenizer skipping(tokenizer, true);
  EXPECT_EQ(skipping.push(eos), "");
  EXPECT_EQ(skipping.push(user), "<｜User｜>");
  IncrementalDetokenizer keeping(tokenizer, false);
  EXPECT_EQ(keeping.push(eos), "<｜end▁of▁sentence｜>");
}

}  // namespace
}  // namespace dsinfer::text
