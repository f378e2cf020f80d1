// AttentionBatch: the per-sequence facts the MLA attention ops need, as tensors on the op's device, for one
// contiguous group of sequences (the model passes the decode group and the prefill group separately).
#pragma once

#include "core/tensor.h"

namespace dsinfer::ops {

struct AttentionBatch {
  int num_sequences = 0;
  // Tensors (I32, on the same device as the activations):
  Tensor query_start;  // [num_sequences + 1]: sequence s owns query rows [query_start[s], query_start[s+1])
                       //   of the group's q / output (row 0 = the group's first token)
  Tensor kv_length;    // [num_sequences]: cached + new tokens; the new tokens are the last ones, at positions
                       //   kv_length - num_new .. kv_length - 1, and are already written into the cache
  Tensor page_table;   // [num_sequences, max_pages_per_sequence]: page ids, page j holds positions
                       //   [j * page_size, (j + 1) * page_size); entries past a sequence's last page unused
  // Host-side bounds, for launch configuration and scratch sizing (exact or upper bounds):
  int max_query_length = 0;
  int max_kv_length = 0;
};

// Shape and dtype checks shared by the attention ops (device-independent; reads no tensor data).
void check_attention_batch(const char* op_name, const AttentionBatch& batch, int64_t num_query_rows);

}  // namespace dsinfer::ops
