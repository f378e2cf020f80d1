#include "model/decode_graphs.h"

#include <algorithm>

#include "core/error.h"
#include "ops/copy.h"

namespace dsinfer {

namespace {
enum MetadataRow { kTokens, kPositions, kSlots, kLogitRows, kQueryStart, kKvLength, kMetadataRows };
}  // namespace

DecodeGraphs::DecodeGraphs(int max_batch_size, const StepLimits& limits)
    : max_batch_size_(max_batch_size), limits_(limits) {
  DSINFER_CHECK(max_batch_size > 0 && max_batch_size <= limits.max_tokens, "--cuda-graph-max-bs ", max_batch_size,
                " must be in [1, max batch tokens ", limits.max_tokens, "]");
  const int64_t width = max_batch_size_ + 2;
  host_metadata_ = ops::empty_staging({kMetadataRows, width}, DType::kI32, Device::kCuda);
  metadata_ = Tensor::empty({kMetadataRows, width}, DType::kI32, Device::kCuda);
}

int DecodeGraphs::bucket_for(int batch_size) const {
  int bucket = batch_size <= 1 ? 1 : batch_size <= 2 ? 2 : batch_size <= 4 ? 4 : (batch_size + 7) / 8 * 8;
  return std::min(bucket, max_batch_size_);
}

bool DecodeGraphs::fits(const ForwardBatch& batch) const {
  const int sequences = static_cast<int>(batch.sequences.size());
  if (sequences == 0 || sequences > max_batch_size_ || batch.num_tokens() != sequences) return false;
  for (const SequenceSlice& sequence : batch.sequences)
    if (sequence.num_new_tokens != 1 || sequence.num_cached_tokens <= 0) return false;
  return true;
}

void DecodeGraphs::drop_graphs() { graphs_.clear(); }

void DecodeGraphs::note_logits_buffer(const Tensor& logits) {
  if (logits.data() != logits_buffer_) {
    drop_graphs();
    logits_buffer_ = logits.data();
  }
}

void DecodeGraphs::ensure_page_width(int pages_per_sequence) {
  if (pages_per_sequence <= page_width_) return;
  int width = 16;
  while (width < pages_per_sequence) width *= 2;
  page_width_ = width;
  host_pages_ = ops::empty_staging({max_batch_size_, width}, DType::kI32, Device::kCuda);
  std::fill_n(host_pages_.data_as<int32_t>(), host_pages_.numel(), 0);
  pages_ = Tensor::empty({max_batch_size_, width}, DType::kI32, Device::kCuda);
  ops::upload(host_pages_, pages_);  // padding rows read page 0
  drop_graphs();
}

StepInputs DecodeGraphs::fill_inputs(const ForwardBatch& batch, int bucket) {
  const int sequences = static_cast<int>(batch.sequences.size());
  const int page_size = limits_.page_size;
  ops::wait_for_device(Device::kCuda);  // the last step's uploads have run: the staging buffers are free
  int pages_per_sequence = 1;
  for (const SequenceSlice& sequence : batch.sequences)
    pages_per_sequence = std::max(pages_per_sequence, (sequence.num_cached_tokens + 1 + page_size - 1) / page_size);
  ensure_page_width(pages_per_sequence);

  const int64_t width = host_metadata_.dim(1);
  int32_t* metadata = host_metadata_.data_as<int32_t>();
  int32_t* pages = host_pages_.data_as<int32_t>();
  metadata[kQueryStart * width] = 0;
  for (int s = 0; s < bucket; ++s) {
    int32_t token = 0, position = 0, slot = -1, length = 1;  // padding: no KV write, attends to page 0's first token
    if (s < sequences) {
      const SequenceSlice& sequence = batch.sequences[s];
      token = batch.token_ids[s];
      position = sequence.num_cached_tokens;
      length = position + 1;
      check_token(token, s, s, limits_);
      const int64_t needed = check_sequence(sequence, s, limits_);
      std::copy_n(sequence.page_table.begin(), needed, pages + static_cast<int64_t>(s) * page_width_);
      slot = sequence.page_table[position / page_size] * page_size + position % page_size;
    } else {
      pages[static_cast<int64_t>(s) * page_width_] = 0;
    }
    metadata[kTokens * width + s] = token;
    metadata[kPositions * width + s] = position;
    metadata[kSlots * width + s] = slot;
    metadata[kLogitRows * width + s] = s;
    metadata[kQueryStart * width + s + 1] = s + 1;
    metadata[kKvLength * width + s] = length;
  }
  metadata[kQueryStart * width + bucket + 1] = 0;  // the (empty) prefill group's offsets
  ops::upload(host_metadata_, metadata_);  // queued: the graph replay follows them on the stream
  Tensor used_pages = pages_.slice_rows(0, bucket);
  ops::upload(host_pages_.slice_rows(0, bucket), used_pages);

  auto row = [&](int index, int64_t count) { return metadata_.slice_rows(index, index + 1).reshape({width}).slice_rows(0, count); };
  StepInputs inputs;
  inputs.num_tokens = bucket;
  inputs.num_decode_tokens = bucket;
  inputs.num_logit_rows = bucket;
  inputs.logits_of_every_row = true;
  inputs.token_ids = row(kTokens, bucket);
  inputs.positions = row(kPositions, bucket);
  inputs.slots = row(kSlots, bucket);
  inputs.logit_rows = row(kLogitRows, bucket);
  Tensor query_start = row(kQueryStart, bucket + 2);
  inputs.decode.num_sequences = bucket;
  inputs.decode.query_start = query_start.slice_rows(0, bucket + 1);
  inputs.decode.kv_length = row(kKvLength, bucket);
  inputs.decode.page_table = pages_.slice_rows(0, bucket);
  inputs.decode.max_query_length = 1;
  inputs.decode.max_kv_length = limits_.max_positions;
  inputs.prefill.num_sequences = 0;
  inputs.prefill.query_start = query_start.slice_rows(bucket + 1, bucket + 2);
  inputs.prefill.kv_length = row(kKvLength, 0);
  inputs.prefill.page_table = pages_.slice_rows(0, 0);
  return inputs;
}

Tensor DecodeGraphs::run(const ForwardBatch& batch, DeepseekModel& model, KvCache& cache) {
  const int sequences = static_cast<int>(batch.sequences.size());
  const int bucket = bucket_for(sequences);
  StepInputs inputs = fill_inputs(batch, bucket);
  if (ops::cuda::graph_memory_generation() != memory_generation_) {
    drop_graphs();
    memory_generation_ = ops::cuda::graph_memory_generation();
  }
  auto found = graphs_.find(bucket);
  if (found == graphs_.end()) {
    // First use of the bucket: run eagerly (this step's result, and every plan, scratch buffer and kernel
    // attribute the capture needs), then capture without executing.
    Tensor logits = model.forward(inputs, cache);
    note_logits_buffer(logits);
    if (ops::cuda::graph_memory_generation() != memory_generation_) {
      drop_graphs();
      memory_generation_ = ops::cuda::graph_memory_generation();
    }
    ops::cuda::begin_graph_capture();
    Tensor captured;
    try {
      captured = model.forward(inputs, cache);
    } catch (...) {
      ops::cuda::abort_graph_capture();
      throw;
    }
    graphs_[bucket] = Graph{ops::cuda::end_graph_capture(), captured};
    return logits.slice_rows(0, sequences);
  }
  ops::cuda::replay_graph(*found->second.graph);
  return found->second.logits.slice_rows(0, sequences);
}

}  // namespace dsinfer
