// KvPagePool and RadixCache: sharing whole pages, splitting, duplicate pages, locks, LRU eviction, and a
// randomized check that every matched page really holds the tokens it is matched for.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "core/error.h"
#include "engine/radix_cache.h"

namespace dsinfer {
namespace {

std::vector<int32_t> allocate(KvPagePool& pool, int count) {
  std::vector<int32_t> pages;
  EXPECT_TRUE(pool.allocate(count, pages));
  return pages;
}

TEST(KvPagePool, AllocatesAllPagesOnceAndRejectsDoubleRelease) {
  KvPagePool pool(4);
  std::vector<int32_t> pages;
  EXPECT_TRUE(pool.allocate(3, pages));
  EXPECT_FALSE(pool.allocate(2, pages));  // all or nothing
  EXPECT_EQ(pages.size(), 3u);
  EXPECT_EQ(pool.num_free(), 1);
  pool.release(std::span<const int32_t>(pages).subspan(0, 1));
  EXPECT_THROW(pool.release(std::span<const int32_t>(pages).subspan(0, 1)), Error);
  EXPECT_THROW(KvPagePool(0), Error);
}

TEST(RadixCache, SharesWholePagesAndSplitsOnDivergence) {
  KvPagePool pool(16);
  RadixCache cache(pool, 4);
  std::vector<int32_t> tokens = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  std::vector<int32_t> pages = allocate(pool, 3);
  const std::vector<int32_t> original = pages;
  cache.insert(tokens, pages);
  EXPECT_EQ(pages, original);
  EXPECT_EQ(cache.num_cached_pages(), 3);

  // Full match stops at whole pages: 13 tokens -> 3 pages.
  std::vector<int32_t> longer = tokens;
  longer.push_back(13);
  EXPECT_EQ(cache.match_prefix(longer).pages, original);
  // 7 tokens match only the first page (the second is incomplete).
  EXPECT_EQ(cache.match_prefix(std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7}).pages, std::vector<int32_t>{original[0]});
  // Divergence inside the second page: one page, and the node is split there.
  RadixCache::Match partial = cache.match_prefix(std::vector<int32_t>{1, 2, 3, 4, 5, 6, 0, 8, 9});
  EXPECT_EQ(partial.pages, std::vector<int32_t>{original[0]});
  EXPECT_EQ(cache.match_prefix(std::vector<int32_t>{9, 9, 9, 9}).pages.size(), 0u);
  // After the split both halves are still found.
  EXPECT_EQ(cache.match_prefix(tokens).pages, original);
  EXPECT_EQ(cache.num_cached_pages(), 3);
}

TEST(RadixCache, InsertReleasesDuplicatePagesAndReturnsCachedIds) {
  KvPagePool pool(16);
  RadixCache cache(pool, 2);
  std::vector<int32_t> first_pages = allocate(pool, 2);
  cache.insert(std::vector<int32_t>{1, 2, 3, 4}, first_pages);
  // A second request computed the same two pages (and one more) itself.
  std::vector<int32_t> second_pages = allocate(pool, 3);
  const int free_before = pool.num_free();
  cache.insert(std::vector<int32_t>{1, 2, 3, 4, 5, 6}, second_pages);
  EXPECT_EQ(pool.num_free(), free_before + 2);  // its two duplicates went back to the pool
  EXPECT_EQ(second_pages[0], first_pages[0]);
  EXPECT_EQ(second_pages[1], first_pages[1]);
  EXPECT_EQ(cache.num_cached_pages(), 3);
  EXPECT_EQ(pool.num_used(), 3);
}

TEST(RadixCache, LockedPagesAreNotEvictedAndLeastRecentlyUsedGoFirst) {
  KvPagePool pool(16);
  RadixCache cache(pool, 2);
  std::vector<int32_t> a_pages = allocate(pool, 2);
  std::vector<int32_t> b_pages = allocate(pool, 2);
  std::vector<int32_t> c_pages = allocate(pool, 1);
  RadixCache::Node* a = cache.insert(std::vector<int32_t>{1, 1, 2, 2}, a_pages);
  cache.insert(std::vector<int32_t>{3, 3, 4, 4}, b_pages);
  cache.insert(std::vector<int32_t>{5, 5}, c_pages);
  cache.match_prefix(std::vector<int32_t>{3, 3, 4, 4});  // b is now the most recently used
  cache.lock(a);
  EXPECT_EQ(cache.num_evictable_pages(), 3);

  EXPECT_EQ(cache.evict(1), 1);  // c: least recently used unlocked leaf
  EXPECT_EQ(cache.match_prefix(std::vector<int32_t>{5, 5}).pages.size(), 0u);
  EXPECT_EQ(cache.evict(1), 1);  // then only the tail page of b
  EXPECT_EQ(cache.match_prefix(std::vector<int32_t>{3, 3, 4, 4}).pages, std::vector<int32_t>{b_pages[0]});
  EXPECT_EQ(cache.evict(10), 1);  // the rest of b; a is locked
  EXPECT_EQ(cache.match_prefix(std::vector<int32_t>{1, 1, 2, 2}).pages, a_pages);
  EXPECT_FALSE(cache.flush());
  cache.unlock(a);
  EXPECT_TRUE(cache.flush());
  EXPECT_EQ(pool.num_used(), 0);
  EXPECT_EQ(cache.num_cached_pages(), 0);
}

TEST(RadixCache, LockCountsSurviveSplits) {
  KvPagePool pool(8);
  RadixCache cache(pool, 1);
  std::vector<int32_t> pages = allocate(pool, 3);
  RadixCache::Node* node = cache.insert(std::vector<int32_t>{1, 2, 3}, pages);
  cache.lock(node);
  // Splitting the locked node (a match that ends inside it) must keep its prefix locked too.
  cache.match_prefix(std::vector<int32_t>{1, 9});
  EXPECT_EQ(cache.num_evictable_pages(), 0);
  EXPECT_EQ(cache.evict(3), 0);
  cache.unlock(node);
  EXPECT_EQ(cache.num_evictable_pages(), 3);
  EXPECT_EQ(cache.evict(3), 3);
  EXPECT_EQ(pool.num_free(), 8);
}

// Random inserts, matches, locks and evictions. Invariants: a matched page always holds exactly the
// token prefix it is matched for; cached pages + free pages == all pages; flush empties everything.
TEST(RadixCache, RandomizedOperationsKeepPagesConsistent) {
  constexpr int kPageSize = 2;
  KvPagePool pool(64);
  RadixCache cache(pool, kPageSize);
  std::mt19937 random(7);
  std::map<int32_t, std::vector<int32_t>> page_prefix;  // page -> the tokens [0, end of page) it holds
  std::vector<RadixCache::Node*> locked;
  for (int iteration = 0; iteration < 4000; ++iteration) {
    std::vector<int32_t> tokens(static_cast<size_t>(random() % 5 + 1) * kPageSize);
    for (auto& token : tokens) token = static_cast<int32_t>(random() % 3);  // small alphabet: many shared prefixes
    const int action = static_cast<int>(random() % 10);
    if (action < 5) {
      RadixCache::Match match = cache.match_prefix(tokens);
      for (size_t i = 0; i < match.pages.size(); ++i) {
        std::vector<int32_t> prefix(tokens.begin(), tokens.begin() + static_cast<long>((i + 1) * kPageSize));
        ASSERT_EQ(page_prefix.at(match.pages[i]), prefix);
      }
      if (action < 2) {
        cache.lock(match.node);
        locked.push_back(match.node);
      }
      const int needed = static_cast<int>(tokens.size() / kPageSize - match.pages.size());
      std::vector<int32_t> pages = match.pages;
      if (pool.num_free() < needed) cache.evict(needed - pool.num_free());
      if (!pool.allocate(needed, pages)) continue;
      for (size_t i = match.pages.size(); i < pages.size(); ++i) {
        page_prefix[pages[i]] = std::vector<int32_t>(tokens.begin(), tokens.begin() + static_cast<long>((i + 1) * kPageSize));
      }
      cache.insert(tokens, pages);
    } else if (action < 7 && !locked.empty()) {
      cache.unlock(locked.back());
      locked.pop_back();
    } else {
      cache.evict(static_cast<int>(random() % 4));
    }
    ASSERT_EQ(cache.num_cached_pages() + pool.num_free(), pool.num_pages());
  }
  for (RadixCache::Node* node : locked) cache.unlock(node);
  EXPECT_TRUE(cache.flush());
  EXPECT_EQ(pool.num_free(), pool.num_pages());
}

}  // namespace
}  // namespace dsinfer
