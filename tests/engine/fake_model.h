// A deterministic stand-in for the model, for scheduler tests only. Its "KV" entry at position p is a
// hash chained over every earlier entry (read back through the page table), and its logits are a hash
// of the last entry, so logits depend on the whole token history exactly as a causal model's do: a wrong
// page, a stale page or a wrong position changes them. It also checks the ForwardBatch contract
// (decode sequences first, page tables that cover the tokens, no two sequences writing one slot).
#pragma once

#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

#include "core/error.h"
#include "engine/model_backend.h"

namespace dsinfer::testing {

inline uint64_t mix_hash(uint64_t a, uint64_t b) {
  uint64_t x = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

class FakeModel : public ModelBackend {
 public:
  FakeModel(int64_t vocab, int page_size, int num_pages, int max_batch_tokens)
      : vocab_(vocab), page_size_(page_size), num_pages_(num_pages), max_batch_tokens_(max_batch_tokens),
        kv_(static_cast<size_t>(num_pages) * page_size, 0) {}

  int64_t vocab_size() const override { return vocab_; }
  int page_size() const override { return page_size_; }
  int num_kv_pages() const override { return num_pages_; }
  int max_batch_tokens() const override { return max_batch_tokens_; }

  // The chained state after `tokens`, computed without any cache: the reference.
  static uint64_t chain(const std::vector<int32_t>& tokens, size_t count) {
    uint64_t state = kStart;
    for (size_t position = 0; position < count; ++position) state = step_state(state, tokens[position], position);
    return state;
  }
  static void fill_logits(uint64_t state, int64_t vocab, float* row) {
    for (int64_t token = 0; token < vocab; ++token) {
      row[token] = static_cast<float>(mix_hash(state, static_cast<uint64_t>(token)) % 100000) / 10000.0f;
    }
  }

  Tensor forward(const ForwardBatch& batch) override {
    DSINFER_CHECK(batch.num_tokens() <= max_batch_tokens_, "fake model: batch of ", batch.num_tokens(), " tokens");
    Tensor logits = Tensor::empty({batch.num_logit_rows(), vocab_}, DType::kF32);
    std::set<int64_t> written;
    bool prefill_seen = false;
    size_t token_index = 0;
    int64_t row = 0;
    for (const SequenceSlice& sequence : batch.sequences) {
      const bool decode = sequence.num_new_tokens == 1 && sequence.num_cached_tokens > 0;
      DSINFER_CHECK(!(decode && prefill_seen), "fake model: decode sequence after a prefill sequence");
      prefill_seen = prefill_seen || !decode;
      const int total = sequence.num_cached_tokens + sequence.num_new_tokens;
      DSINFER_CHECK(sequence.num_new_tokens >= 1 && static_cast<int64_t>(sequence.page_table.size()) * page_size_ >= total,
                    "fake model: page table of ", sequence.page_table.size(), " pages for ", total, " tokens");
      for (int32_t page : sequence.page_table) DSINFER_CHECK(page >= 0 && page < num_pages_, "fake model: page ", page);
      uint64_t state = sequence.num_cached_tokens == 0 ? kStart : kv_[slot(sequence, sequence.num_cached_tokens - 1)];
      for (int i = 0; i < sequence.num_new_tokens; ++i) {
        const int position = sequence.num_cached_tokens + i;
        state = step_state(state, batch.token_ids[token_index++], static_cast<size_t>(position));
        const int64_t target = slot(sequence, position);
        DSINFER_CHECK(written.insert(target).second, "fake model: two sequences write KV slot ", target);
        kv_[static_cast<size_t>(target)] = state;
        if (sequence.all_logits || i + 1 == sequence.num_new_tokens) {
          fill_logits(state, vocab_, logits.data_as<float>() + row * vocab_);
          ++row;
        }
      }
      max_sequences_seen = std::max<int>(max_sequences_seen, static_cast<int>(batch.sequences.size()));
    }
    ++forward_calls;
    return logits;
  }

  int forward_calls = 0;
  int max_sequences_seen = 0;

 private:
  static constexpr uint64_t kStart = 0x1234567;
  static uint64_t step_state(uint64_t state, int32_t token, size_t position) {
    return mix_hash(mix_hash(state, static_cast<uint64_t>(token)), position);
  }
  int64_t slot(const SequenceSlice& sequence, int position) const {
    return static_cast<int64_t>(sequence.page_table[static_cast<size_t>(position / page_size_)]) * page_size_ +
           position % page_size_;
  }

  int64_t vocab_;
  int page_size_;
  int num_pages_;
  int max_batch_tokens_;
  std::vector<uint64_t> kv_;  // [num_pages * page_size] chained states
};

}  // namespace dsinfer::testing
