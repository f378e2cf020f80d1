// One forward over a batch that mixes decode and prefill sequences gives exactly what running them one by one
// gives, and the runner rejects malformed batches with messages naming the field.
#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "fixture_runs.h"

namespace dsinfer {
namespace {

using namespace model_testing;

class MixedBatchTest : public ::testing::Test {
 protected:
  MixedBatchTest() : reference_("dsv3-tiny-bf16") {}

  // Sequence 2's first 30 tokens prefilled (pages 0..), then one forward with: its token 30 (decode), prompt 1's
  // whole sequence (prefill, all logits), and prompt 3's first 21 tokens (prefill, last logits only).
  Tensor run_mixed(ModelRunner& runner) {
    std::vector<int32_t> decoding = reference_.ids("sequence.2"), fresh = reference_.ids("sequence.1");
    std::vector<int32_t> partial = reference_.ids("sequence.3");
    run_in_chunks(runner, std::vector<int32_t>(decoding.begin(), decoding.begin() + 30), 30, decode_pages());
    ForwardBatch batch;
    batch.sequences.push_back({30, 1, decode_pages(), false});
    batch.sequences.push_back({0, static_cast<int32_t>(fresh.size()), {20, 21}, true});
    batch.sequences.push_back({0, 21, {30, 31}, false});
    batch.token_ids.push_back(decoding[30]);
    batch.token_ids.insert(batch.token_ids.end(), fresh.begin(), fresh.end());
    batch.token_ids.insert(batch.token_ids.end(), partial.begin(), partial.begin() + 21);
    EXPECT_EQ(batch.num_logit_rows(), 1 + static_cast<int>(fresh.size()) + 1);
    return runner.forward(batch);
  }
  static std::vector<int32_t> decode_pages() { return {7, 3, 9, 12}; }

  Reference reference_;
};

TEST_F(MixedBatchTest, EqualsTheSequencesRunSeparately) {
  auto runner = ModelRunner::create(small_cache_options("dsv3-tiny-bf16"));
  Tensor mixed = run_mixed(*runner);
  const int64_t vocab = runner->config().vocab_size;

  auto separate = ModelRunner::create(small_cache_options("dsv3-tiny-bf16"));
  std::vector<int32_t> decoding = reference_.ids("sequence.2"), fresh = reference_.ids("sequence.1");
  std::vector<int32_t> partial = reference_.ids("sequence.3");
  Tensor decoded = run_in_chunks(*separate, std::vector<int32_t>(decoding.begin(), decoding.begin() + 31), 30,
                                 decode_pages());  // the 31st token runs as a lone decode step
  Tensor prefilled = run_in_chunks(*separate, fresh, static_cast<int>(fresh.size()), {40, 41});
  Tensor last = run_in_chunks(*separate, std::vector<int32_t>(partial.begin(), partial.begin() + 21), 21, {50, 51});

  // Rows: decode, fresh's every row, partial's last row. Row-independent CPU math: bit-identical.
  auto row_equal = [&](int64_t mixed_row, const Tensor& source, int64_t source_row) {
    return std::memcmp(mixed.data_as<float>() + mixed_row * vocab, source.data_as<float>() + source_row * vocab,
                       vocab * sizeof(float)) == 0;
  };
  EXPECT_TRUE(row_equal(0, decoded, 30));
  for (int64_t i = 0; i < static_cast<int64_t>(fresh.size()); ++i) EXPECT_TRUE(row_equal(1 + i, prefilled, i)) << i;
  EXPECT_TRUE(row_equal(1 + static_cast<int64_t>(fresh.size()), last, 20));

  // And against the golden reference.
  Tensor golden = reference_.tensor("logits.2");
  Tensor decode_row = Tensor::view(mixed.data(), {1, vocab}, DType::kF32);
  Tensor golden_row = Tensor::view(golden.data_as<float>() + 30 * vocab, {1, vocab}, DType::kF32);
  EXPECT_LE(max_of(row_errors(decode_row, golden_row)), 1e-4);
}

TEST(BatchValidation, RejectsBadBatchesNamingTheField) {
  auto runner = ModelRunner::create(small_cache_options("dsv3-tiny-bf16", 16, 8));
  auto expect_error = [&](const ForwardBatch& batch, const std::string& fragment) {
    try {
      runner->forward(batch);
      ADD_FAILURE() << "expected an error mentioning " << fragment;
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
    }
  };
  ForwardBatch batch;
  batch.sequences.push_back({0, 2, {0}, true});
  batch.token_ids = {5, 512};
  expect_error(batch, "token id 512");
  batch.token_ids = {5, 6, 7};
  expect_error(batch, "token_ids holds 3");
  batch.token_ids = {5, 6};
  batch.sequences[0].page_table = {8};
  expect_error(batch, "page_table[0] = 8");
  batch.sequences[0] = {15, 2, {0}, true};
  expect_error(batch, "needs 2");
  batch.sequences[0] = {127, 2, {0, 1, 2, 3, 4, 5, 6, 7}, true};
  expect_error(batch, "positions this runner supports");
}

}  // namespace
}  // namespace dsinfer
