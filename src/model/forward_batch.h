// ForwardBatch: what one model forward computes, described on the host by the scheduler (or the
// `logits` command). Backend-independent; the model runner turns it into device metadata.
//
// Each sequence contributes `num_new_tokens` consecutive tokens whose positions are
// num_cached_tokens, num_cached_tokens + 1, ...; the first `num_cached_tokens` tokens of the sequence are
// already in its KV pages (a cached prefix or earlier chunks). The forward writes the new tokens' KV
// entries into the same pages before attending, so `page_table` must cover num_cached + num_new tokens.
//
// Ordering rule: decode sequences (num_new_tokens == 1 and num_cached_tokens > 0) come first, then the
// prefill / chunked-prefill sequences. token_ids follow the same order, sequence after sequence.
#pragma once

#include <cstdint>
#include <vector>

namespace dsinfer {

struct SequenceSlice {
  int32_t num_cached_tokens = 0;     // already in the KV cache
  int32_t num_new_tokens = 0;        // computed by this forward (>= 1)
  std::vector<int32_t> page_table;   // KV page ids in position order: page i holds positions [i*P, (i+1)*P)
  bool all_logits = false;           // logits for every new token (else only for the last one)
};

struct ForwardBatch {
  std::vector<int32_t> token_ids;        // [sum of num_new_tokens]
  std::vector<SequenceSlice> sequences;  // decode sequences first

  int num_tokens() const { return static_cast<int>(token_ids.size()); }
  // Rows of the logits this forward returns, in sequence order.
  int num_logit_rows() const {
    int rows = 0;
    for (const auto& sequence : sequences) rows += sequence.all_logits ? sequence.num_new_tokens : 1;
    return rows;
  }
};

}  // namespace dsinfer
