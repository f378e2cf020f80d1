// The paged MLA KV cache: per layer one tensor [num_pages, page_size, kv_lora_rank + qk_rope_head_dim]
// (F32 on the CPU, BF16 on CUDA). It only holds memory: which pages a sequence owns is the scheduler's
// business (ForwardBatch page tables); the model's mla_cache_write is the only writer.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "model/config.h"

namespace dsinfer {

class KvCache {
 public:
  KvCache(const ModelConfig& config, int num_pages, int page_size, DType dtype, Device device);

  // Bytes one page takes over all layers, for sizing the cache from a memory budget.
  static int64_t bytes_per_page(const ModelConfig& config, int page_size, DType dtype);

  Tensor& layer(int index) { return layers_.at(static_cast<size_t>(index)); }  // [pages, page_size, width]
  int num_pages() const { return num_pages_; }
  int page_size() const { return page_size_; }

 private:
  int num_pages_, page_size_;
  std::vector<Tensor> layers_;
};

}  // namespace dsinfer
