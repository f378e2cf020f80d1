// Reading one sequence's entries from the paged MLA cache on the CPU.
#pragma once

#include <cstdint>

#include "core/error.h"
#include "core/tensor.h"
#include "ops/attention_batch.h"

namespace dsinfer::ops::cpu {

// Entry addresses of sequence `sequence` in an F32 cache [num_pages, page_size, width].
class PagedCacheReader {
 public:
  PagedCacheReader(const Tensor& kv_cache, const AttentionBatch& batch, int64_t sequence)
      : cache_(kv_cache.data_as<const float>()),
        pages_(batch.page_table.data_as<const int32_t>() + sequence * batch.page_table.dim(1)),
        page_size_(kv_cache.dim(1)),
        width_(kv_cache.dim(2)) {
    int64_t length = batch.kv_length.data_as<const int32_t>()[sequence];
    int64_t used_pages = (length + page_size_ - 1) / page_size_;
    DSINFER_CHECK(used_pages <= batch.page_table.dim(1), "attention: sequence ", sequence, " has ", length,
                  " tokens but its page table holds ", batch.page_table.dim(1), " pages of ", page_size_);
    for (int64_t p = 0; p < used_pages; ++p) {
      DSINFER_CHECK(pages_[p] >= 0 && pages_[p] < kv_cache.dim(0), "attention: sequence ", sequence, " page ", p,
                    " is ", pages_[p], ", outside the ", kv_cache.dim(0), " pages of the KV cache");
    }
  }
  // [width]: latent (kv_lora_rank) then rope key, of the token at `position`.
  const float* entry(int64_t position) const {
    return cache_ + (static_cast<int64_t>(pages_[position / page_size_]) * page_size_ + position % page_size_) * width_;
  }

 private:
  const float* cache_;
  const int32_t* pages_;
  int64_t page_size_;
  int64_t width_;
};

}  // namespace dsinfer::ops::cpu
