// Prefix cache with SGLang's RadixAttention semantics at page granularity: a radix tree over token ids
// whose edges hold whole KV pages. A new request reuses the pages of its longest cached prefix instead
// of recomputing them. Requests pin the path they use with reference counts (lock / unlock); pages of
// nodes nobody holds stay cached until the pool needs them, then the least recently used leaves are
// evicted first (tail pages of a leaf before its head).
//
// Only whole pages are shared: a node's `tokens` is a multiple of page_size long and node->pages[i]
// holds the KV of tokens [i * page_size, (i + 1) * page_size). The tree owns the pages of its nodes;
// eviction returns them to the KvPagePool.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/kv_page_pool.h"

namespace dsinfer {

class RadixCache {
 public:
  struct Node;

  struct Match {
    Node* node = nullptr;         // deepest matched node (the root when nothing matched)
    std::vector<int32_t> pages;   // pages of the matched prefix, tokens [0, pages.size() * page_size)
  };

  RadixCache(KvPagePool& pool, int page_size);
  ~RadixCache();
  RadixCache(const RadixCache&) = delete;
  RadixCache& operator=(const RadixCache&) = delete;

  // Longest cached prefix of `tokens` in whole pages; marks it recently used. Does not lock.
  Match match_prefix(std::span<const int32_t> tokens);

  // Hands the pages holding the KV of `tokens` (tokens.size() == pages.size() * page_size) to the cache.
  // Where the same tokens are already cached under other page ids, the caller's duplicate pages are
  // released to the pool and replaced in `pages` by the cached ids, so that afterwards `pages` is exactly
  // what the tree holds. Returns the node that ends at tokens.size() (unlocked).
  Node* insert(std::span<const int32_t> tokens, std::span<int32_t> pages);

  // Pin / unpin the path from the root to `node` (null or the root: nothing).
  void lock(Node* node);
  void unlock(Node* node);

  // Frees at least `num_pages` pages (if that many are unlocked), least recently used leaves first.
  // Returns the number freed.
  int evict(int num_pages);

  // Drops every cached page. Refused (returns false) while any node is locked.
  bool flush();

  int num_cached_pages() const { return num_cached_pages_; }
  int num_evictable_pages() const { return num_evictable_pages_; }  // cached pages no request holds

 private:
  using PageKey = std::vector<int32_t>;  // the token ids of a child's first page
  struct PageKeyHash {
    size_t operator()(const PageKey& key) const;
  };
  using LruEntry = std::pair<uint64_t, Node*>;  // (last access, node)

  Node* split(Node* node, int num_prefix_pages);
  void touch(Node* node);
  void update_evictable_leaf(Node* node);
  PageKey first_page_key(std::span<const int32_t> tokens) const;

  KvPagePool& pool_;
  int page_size_;
  std::unique_ptr<Node> root_;
  uint64_t clock_ = 0;                // logical time of the last access
  std::set<LruEntry> evictable_leaves_;  // unlocked leaves, least recently used first
  int num_cached_pages_ = 0;
  int num_evictable_pages_ = 0;

 public:
  struct Node {
    std::vector<int32_t> tokens;  // this edge's token ids (a multiple of page_size)
    std::vector<int32_t> pages;   // tokens.size() / page_size page ids
    Node* parent = nullptr;
    std::unordered_map<PageKey, std::unique_ptr<Node>, PageKeyHash> children;
    int lock_count = 0;           // requests whose prefix runs through this node
    uint64_t last_access = 0;
    bool in_lru = false;          // listed in evictable_leaves_
  };
};

}  // namespace dsinfer
