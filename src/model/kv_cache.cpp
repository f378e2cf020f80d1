#include "model/kv_cache.h"

#include "core/error.h"

namespace dsinfer {

KvCache::KvCache(const ModelConfig& config, int num_pages, int page_size, DType dtype, Device device)
    : num_pages_(num_pages), page_size_(page_size) {
  DSINFER_CHECK(num_pages > 0 && page_size > 0, "KV cache: need at least one page of at least one token (got ",
                num_pages, " pages of ", page_size, ")");
  layers_.reserve(static_cast<size_t>(config.num_hidden_layers));
  for (int layer = 0; layer < config.num_hidden_layers; ++layer) {
    layers_.push_back(Tensor::empty({num_pages, page_size, config.kv_cache_width()}, dtype, device));
  }
}

int64_t KvCache::bytes_per_page(const ModelConfig& config, int page_size, DType dtype) {
  return static_cast<int64_t>(config.num_hidden_layers) * page_size * config.kv_cache_width() *
         static_cast<int64_t>(dtype_size(dtype));
}

}  // namespace dsinfer
