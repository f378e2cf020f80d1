#include "model/step_inputs.h"

#include <algorithm>

#include "core/error.h"
#include "ops/copy.h"

namespace dsinfer {

namespace {

Tensor device_twin(const Tensor& host, Device device) {
  return device == Device::kCpu ? host : Tensor::empty(host.shape(), host.dtype(), device);
}

// Queues the copy of the first `count` elements of a flat staging buffer into its device twin (none on the
// CPU, where they are the same buffer); returns the device view.
Tensor upload(const Tensor& host, const Tensor& device_buffer, int64_t count) {
  Tensor source = host.slice_rows(0, count), destination = device_buffer.slice_rows(0, count);
  if (destination.data() != source.data()) ops::upload(source, destination);
  return destination;
}

}  // namespace

int64_t check_sequence(const SequenceSlice& sequence, int index, const StepLimits& limits) {
  DSINFER_CHECK(sequence.num_new_tokens >= 1 && sequence.num_cached_tokens >= 0, "forward batch: sequence ", index,
                " has num_new_tokens ", sequence.num_new_tokens, " and num_cached_tokens ", sequence.num_cached_tokens,
                " (need at least one new token)");
  const int length = sequence.num_cached_tokens + sequence.num_new_tokens;
  DSINFER_CHECK(length <= limits.max_positions, "forward batch: sequence ", index, " reaches ", length,
                " tokens, more than the ", limits.max_positions, " positions this runner supports (",
                "max_position_embeddings or KV cache size)");
  const int64_t pages_needed = (length + limits.page_size - 1) / limits.page_size;
  DSINFER_CHECK(static_cast<int64_t>(sequence.page_table.size()) >= pages_needed, "forward batch: sequence ", index,
                " has ", length, " tokens but its page_table lists ", sequence.page_table.size(), " pages of ",
                limits.page_size, " (needs ", pages_needed, ")");
  for (int64_t p = 0; p < pages_needed; ++p) {
    const int32_t page = sequence.page_table[p];
    DSINFER_CHECK(page >= 0 && page < limits.num_pages, "forward batch: sequence ", index, " page_table[", p, "] = ",
                  page, " is outside the KV cache's ", limits.num_pages, " pages");
  }
  return pages_needed;
}

void check_token(int32_t token, int row, int index, const StepLimits& limits) {
  DSINFER_CHECK(token >= 0 && token < limits.vocab_size, "forward batch: token id ", token, " at row ", row,
                " (sequence ", index, ") is outside the vocabulary [0, ", limits.vocab_size, ")");
}

StepInputPreparer::StepInputPreparer(const StepLimits& limits, Device device) : limits_(limits), device_(device) {
  DSINFER_CHECK(limits.max_tokens > 0 && limits.page_size > 0 && limits.num_pages > 0,
                "step inputs: max tokens, page size and page count must be positive");
  const int64_t tokens = limits.max_tokens;
  for (Tensor* host : {&host_tokens_, &host_positions_, &host_slots_, &host_logit_rows_, &host_kv_length_}) {
    *host = ops::empty_staging({tokens}, DType::kI32, device);
  }
  host_query_start_ = ops::empty_staging({tokens + 2}, DType::kI32, device);
  tokens_ = device_twin(host_tokens_, device);
  positions_ = device_twin(host_positions_, device);
  slots_ = device_twin(host_slots_, device);
  logit_rows_ = device_twin(host_logit_rows_, device);
  kv_length_ = device_twin(host_kv_length_, device);
  query_start_ = device_twin(host_query_start_, device);
  ensure_page_table_capacity(tokens);
}

void StepInputPreparer::ensure_page_table_capacity(int64_t entries) {
  if (host_page_table_.defined() && host_page_table_.numel() >= entries) return;
  host_page_table_ = ops::empty_staging({entries}, DType::kI32, device_);
  page_table_ = device_twin(host_page_table_, device_);
}

const StepInputs& StepInputPreparer::prepare(const ForwardBatch& batch) {
  const int sequences = static_cast<int>(batch.sequences.size());
  DSINFER_CHECK(sequences > 0, "forward batch: no sequences");
  int64_t total_new = 0;
  for (const SequenceSlice& sequence : batch.sequences) total_new += sequence.num_new_tokens;
  DSINFER_CHECK(total_new == batch.num_tokens(), "forward batch: the sequences' num_new_tokens add up to ", total_new,
                " but token_ids holds ", batch.num_tokens());
  DSINFER_CHECK(total_new <= limits_.max_tokens, "forward batch: ", total_new,
                " tokens exceed the workspace of max_batch_tokens = ", limits_.max_tokens);

  // The decode group: the leading sequences with exactly one new token after a cached prefix. (A decode-shaped
  // sequence after a prefill one is simply run by the prefill path, which computes the same thing.)
  int decode_sequences = 0;
  while (decode_sequences < sequences && batch.sequences[decode_sequences].num_new_tokens == 1 &&
         batch.sequences[decode_sequences].num_cached_tokens > 0) {
    ++decode_sequences;
  }
  int64_t pages_per_sequence = 1;
  for (const SequenceSlice& sequence : batch.sequences) {
    int64_t length = static_cast<int64_t>(sequence.num_cached_tokens) + sequence.num_new_tokens;
    pages_per_sequence = std::max(pages_per_sequence, (length + limits_.page_size - 1) / limits_.page_size);
  }
  ops::wait_for_device(device_);  // the last step's uploads have run: the staging buffers are free
  ensure_page_table_capacity(pages_per_sequence * sequences);

  int32_t* tokens = host_tokens_.data_as<int32_t>();
  int32_t* positions = host_positions_.data_as<int32_t>();
  int32_t* slots = host_slots_.data_as<int32_t>();
  int32_t* logit_rows = host_logit_rows_.data_as<int32_t>();
  int32_t* query_start = host_query_start_.data_as<int32_t>();
  int32_t* kv_length = host_kv_length_.data_as<int32_t>();
  int32_t* page_table = host_page_table_.data_as<int32_t>();
  std::fill_n(page_table, pages_per_sequence * sequences, 0);

  int row = 0, logit_count = 0, max_decode_kv = 0, max_prefill_query = 0, max_prefill_kv = 0;
  int32_t* group_start = query_start;  // decode group's offsets, then the prefill group's
  group_start[0] = 0;
  for (int s = 0; s < sequences; ++s) {
    const SequenceSlice& sequence = batch.sequences[s];
    const bool decode = s < decode_sequences;
    if (s == decode_sequences) {  // the prefill group starts its own offsets, relative to its first row
      group_start = query_start + decode_sequences + 1;
      group_start[0] = 0;
    }
    const int64_t pages_needed = check_sequence(sequence, s, limits_);
    const int length = sequence.num_cached_tokens + sequence.num_new_tokens;
    std::copy_n(sequence.page_table.begin(), pages_needed, page_table + s * pages_per_sequence);
    for (int i = 0; i < sequence.num_new_tokens; ++i, ++row) {
      const int32_t token = batch.token_ids[row];
      check_token(token, row, s, limits_);
      const int position = sequence.num_cached_tokens + i;
      tokens[row] = token;
      positions[row] = position;
      slots[row] = sequence.page_table[position / limits_.page_size] * limits_.page_size + position % limits_.page_size;
      if (sequence.all_logits || i == sequence.num_new_tokens - 1) logit_rows[logit_count++] = row;
    }
    const int group_index = decode ? s : s - decode_sequences;
    group_start[group_index + 1] = group_start[group_index] + sequence.num_new_tokens;
    kv_length[s] = length;
    if (decode) {
      max_decode_kv = std::max(max_decode_kv, length);
    } else {
      max_prefill_query = std::max(max_prefill_query, sequence.num_new_tokens);
      max_prefill_kv = std::max(max_prefill_kv, length);
    }
  }
  if (decode_sequences == sequences) query_start[decode_sequences + 1] = 0;  // empty prefill group

  const int prefill_sequences = sequences - decode_sequences;
  StepInputs& inputs = inputs_;
  inputs.num_tokens = row;
  inputs.num_decode_tokens = decode_sequences;
  inputs.num_logit_rows = logit_count;
  inputs.logits_of_every_row = logit_count == row;  // rows are listed ascending, once each
  inputs.token_ids = upload(host_tokens_, tokens_, row);
  inputs.positions = upload(host_positions_, positions_, row);
  inputs.slots = upload(host_slots_, slots_, row);
  inputs.logit_rows = upload(host_logit_rows_, logit_rows_, logit_count);
  Tensor all_query_start = upload(host_query_start_, query_start_, sequences + 2);
  Tensor all_kv_length = upload(host_kv_length_, kv_length_, sequences);
  Tensor all_pages = upload(host_page_table_, page_table_, pages_per_sequence * sequences)
                         .reshape({sequences, pages_per_sequence});

  inputs.decode.num_sequences = decode_sequences;
  inputs.decode.query_start = all_query_start.slice_rows(0, decode_sequences + 1);
  inputs.decode.kv_length = all_kv_length.slice_rows(0, decode_sequences);
  inputs.decode.page_table = all_pages.slice_rows(0, decode_sequences);
  inputs.decode.max_query_length = decode_sequences > 0 ? 1 : 0;
  inputs.decode.max_kv_length = max_decode_kv;
  inputs.prefill.num_sequences = prefill_sequences;
  inputs.prefill.query_start = all_query_start.slice_rows(decode_sequences + 1, sequences + 2);
  inputs.prefill.kv_length = all_kv_length.slice_rows(decode_sequences, sequences);
  inputs.prefill.page_table = all_pages.slice_rows(decode_sequences, sequences);
  inputs.prefill.max_query_length = max_prefill_query;
  inputs.prefill.max_kv_length = max_prefill_kv;
  return inputs;
}

}  // namespace dsinfer
