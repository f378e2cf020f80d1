// The KV-cache page allocator: hands out page ids in [0, num_pages). The memory itself lives in the model
// runner's KV cache ([num_layers][num_pages, page_size, kv_width]); this class only decides which
// request or prefix-cache node owns which page. Every page is free, owned by one request, or owned by
// the radix cache; releasing a page that is already free is a bug and throws.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace dsinfer {

class KvPagePool {
 public:
  explicit KvPagePool(int num_pages);

  int num_pages() const { return static_cast<int>(in_use_.size()); }
  int num_free() const { return static_cast<int>(free_pages_.size()); }
  int num_used() const { return num_pages() - num_free(); }

  // Appends `count` page ids to `pages`; takes none and returns false when fewer than `count` are free.
  bool allocate(int count, std::vector<int32_t>& pages);
  void release(std::span<const int32_t> pages);

 private:
  std::vector<int32_t> free_pages_;  // a stack: recently freed pages are reused first (warm in cache)
  std::vector<bool> in_use_;
};

}  // namespace dsinfer
