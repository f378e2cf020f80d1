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

  bool samples_on_device() const override { return device_sampling; }

  // Logits in one reused buffer, as the real runner's. The fake "device" draw: greedy rows take the argmax
  // (lowest id on ties, as every backend), the others token seed % vocab, so that tests can predict a
  // device-drawn token from the request's RNG.
  Tensor forward(const ForwardBatch& batch, const DeviceSampling* sampling, bool return_logits) override {
    DSINFER_CHECK(batch.num_tokens() <= max_batch_tokens_, "fake model: batch of ", batch.num_tokens(), " tokens");
    DSINFER_CHECK(sampling == nullptr || device_sampling, "fake model: device sampling asked of a host backend");
    const int64_t num_rows = batch.num_logit_rows();
    max_logit_rows_seen = std::max(max_logit_rows_seen, num_rows);
    if (!logits_.defined() || logits_.dim(0) < num_rows) logits_ = Tensor::empty({num_rows, vocab_}, DType::kF32);
    Tensor logits = logits_.slice_rows(0, num_rows);
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
    if (sampling != nullptr) {
      ++device_sampling_calls;
      for (int64_t r = 0; r < num_rows; ++r) {
        const float* values = logits.data_as<float>() + r * vocab_;
        sampling->ids[static_cast<size_t>(r)] =
            sampling->temperature[static_cast<size_t>(r)] <= 0.0f
                ? static_cast<int32_t>(std::max_element(values, values + vocab_) - values)
                : static_cast<int32_t>(sampling->seeds[static_cast<size_t>(r)] % static_cast<uint64_t>(vocab_));
      }
    }
    if (!return_logits) return Tensor();
    ++logits_calls;
    return logits;
  }

  bool device_sampling = false;  // act as a GPU backend (samples_on_device)
  int forward_calls = 0;
  int device_sampling_calls = 0;  // forwards that drew tokens on the "device"
  int logits_calls = 0;           // forwards that returned logits
  int max_sequences_seen = 0;
  int64_t max_logit_rows_seen = 0;

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
  Tensor logits_;             // [rows, vocab], grown on demand
};

}  // namespace dsinfer::testing
