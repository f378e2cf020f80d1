#include "ops/attention_batch.h"

#include "core/error.h"

namespace dsinfer::ops {

void check_attention_batch(const char* op_name, const AttentionBatch& batch, int64_t num_query_rows) {
  const int sequences = batch.num_sequences;
  DSINFER_CHECK(batch.query_start.shape() == Shape({sequences + 1}) && batch.query_start.dtype() == DType::kI32,
                "ops::", op_name, ": query_start must be I32 [", sequences + 1, "], got ", batch.query_start.describe());
  DSINFER_CHECK(batch.kv_length.shape() == Shape({sequences}) && batch.kv_length.dtype() == DType::kI32,
                "ops::", op_name, ": kv_length must be I32 [", sequences, "], got ", batch.kv_length.describe());
  DSINFER_CHECK(batch.page_table.rank() == 2 && batch.page_table.dim(0) == sequences &&
                    batch.page_table.dtype() == DType::kI32,
                "ops::", op_name, ": page_table must be I32 [", sequences, ", pages], got ",
                batch.page_table.describe());
  DSINFER_CHECK(num_query_rows >= 0 && batch.max_query_length >= 0 && batch.max_kv_length >= batch.max_query_length,
                "ops::", op_name, ": inconsistent bounds (max_query_length ", batch.max_query_length,
                ", max_kv_length ", batch.max_kv_length, ")");
}

}  // namespace dsinfer::ops
