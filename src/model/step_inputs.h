// StepInputs: one ForwardBatch turned into the tensors the ops read (on the model's device), and the
// preparer that validates a batch and fills them. Buffers are allocated once for the workspace capacity and
// reused every step; only the page table grows, when a step needs more pages per sequence than any before.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "model/forward_batch.h"
#include "ops/attention_batch.h"

namespace dsinfer {

struct StepInputs {
  int num_tokens = 0;         // T, decode tokens first
  int num_decode_tokens = 0;  // D: the leading sequences with one new token after a cached prefix
  int num_logit_rows = 0;     // R
  Tensor token_ids;           // [T] I32
  Tensor positions;           // [T] I32: num_cached_tokens + i
  Tensor slots;               // [T] I32: page_table[position / page_size] * page_size + position % page_size
  Tensor logit_rows;          // [R] I32: the token rows whose logits are returned, in sequence order
  bool logits_of_every_row = false;  // logit_rows is 0 .. T-1 (R == T): the lm_head reads the rows in place
  ops::AttentionBatch decode;   // sequences [0, D); query rows 0..D-1
  ops::AttentionBatch prefill;  // the rest; query rows relative to row D
};

struct StepLimits {
  int max_tokens = 0;      // workspace capacity (ModelRunnerOptions::max_batch_tokens)
  int page_size = 0;
  int num_pages = 0;
  int max_positions = 0;   // rows of the rope table: no sequence may grow past it
  int64_t vocab_size = 0;
};

// Checks sequence `index` of a batch against `limits`: at least one new token, no more tokens than
// max_positions, a page table covering them with page ids inside the cache. Returns the pages it spans.
// Shared by StepInputPreparer and the CUDA decode graphs (model/decode_graphs.h).
int64_t check_sequence(const SequenceSlice& sequence, int index, const StepLimits& limits);
// Checks that `token`, at batch row `row` (of sequence `index`), is inside the vocabulary.
void check_token(int32_t token, int row, int index, const StepLimits& limits);

class StepInputPreparer {
 public:
  StepInputPreparer(const StepLimits& limits, Device device);

  // Validates `batch` (token ids in the vocabulary, page tables covering every position with valid page ids,
  // sizes within the limits; errors name the sequence and field) and fills the inputs. The returned
  // reference stays valid until the next call.
  const StepInputs& prepare(const ForwardBatch& batch);

 private:
  void ensure_page_table_capacity(int64_t entries);

  StepLimits limits_;
  Device device_;
  // Host staging, then the device copies (the same tensors on the CPU).
  Tensor host_tokens_, host_positions_, host_slots_, host_logit_rows_;  // [max_tokens] each
  Tensor host_query_start_;  // [max_tokens + 2]: decode group's [D + 1] then prefill group's [P + 1]
  Tensor host_kv_length_;    // [max_tokens]
  Tensor host_page_table_;   // flat, [sequences * pages per sequence] used
  Tensor tokens_, positions_, slots_, logit_rows_, query_start_, kv_length_, page_table_;
  StepInputs inputs_;
};

}  // namespace dsinfer
