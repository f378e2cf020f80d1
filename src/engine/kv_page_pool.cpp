#include "engine/kv_page_pool.h"

#include "core/error.h"

namespace dsinfer {

KvPagePool::KvPagePool(int num_pages) : in_use_(static_cast<size_t>(num_pages), false) {
  DSINFER_CHECK(num_pages > 0, "the KV cache has no pages (num_kv_pages = ", num_pages,
                "); give it more memory (--mem-fraction-static) or a smaller page size");
  free_pages_.reserve(static_cast<size_t>(num_pages));
  // Highest id at the bottom of the stack, so that allocation starts from page 0.
  for (int page = num_pages - 1; page >= 0; --page) free_pages_.push_back(page);
}

bool KvPagePool::allocate(int count, std::vector<int32_t>& pages) {
  if (count > num_free()) return false;
  for (int i = 0; i < count; ++i) {
    const int32_t page = free_pages_.back();
    free_pages_.pop_back();
    in_use_[static_cast<size_t>(page)] = true;
    pages.push_back(page);
  }
  return true;
}

void KvPagePool::release(std::span<const int32_t> pages) {
  for (int32_t page : pages) {
    DSINFER_CHECK(page >= 0 && page < num_pages() && in_use_[static_cast<size_t>(page)],
                  "KV page ", page, " released twice or never allocated (pool of ", num_pages(), " pages)");
    in_use_[static_cast<size_t>(page)] = false;
    free_pages_.push_back(page);
  }
}

}  // namespace dsinfer
