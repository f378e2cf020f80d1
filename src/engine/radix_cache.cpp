#include "engine/radix_cache.h"

#include <algorithm>

#include "core/error.h"

namespace dsinfer {

size_t RadixCache::PageKeyHash::operator()(const PageKey& key) const {
  uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a over the token ids
  for (int32_t token : key) {
    hash ^= static_cast<uint32_t>(token);
    hash *= 0x100000001b3ull;
  }
  return static_cast<size_t>(hash);
}

RadixCache::RadixCache(KvPagePool& pool, int page_size)
    : pool_(pool), page_size_(page_size), root_(std::make_unique<Node>()) {
  DSINFER_CHECK(page_size > 0, "page size must be positive, got ", page_size);
}

RadixCache::~RadixCache() = default;

RadixCache::PageKey RadixCache::first_page_key(std::span<const int32_t> tokens) const {
  return PageKey(tokens.begin(), tokens.begin() + page_size_);
}

void RadixCache::update_evictable_leaf(Node* node) {
  const bool evictable = node != root_.get() && node->children.empty() && node->lock_count == 0;
  if (evictable == node->in_lru) return;
  if (evictable) {
    evictable_leaves_.insert({node->last_access, node});
  } else {
    evictable_leaves_.erase({node->last_access, node});
  }
  node->in_lru = evictable;
}

void RadixCache::touch(Node* node) {
  if (node->in_lru) evictable_leaves_.erase({node->last_access, node});
  node->last_access = clock_;
  if (node->in_lru) evictable_leaves_.insert({node->last_access, node});
}

// Cuts `node` after its first num_prefix_pages pages: a new node with that prefix takes node's place
// under its parent, and node (now the suffix) hangs below it. Locks carry over to the prefix, since
// every request holding node also holds the part in front of it.
RadixCache::Node* RadixCache::split(Node* node, int num_prefix_pages) {
  const size_t prefix_tokens = static_cast<size_t>(num_prefix_pages) * page_size_;
  auto prefix = std::make_unique<Node>();
  prefix->tokens.assign(node->tokens.begin(), node->tokens.begin() + prefix_tokens);
  prefix->pages.assign(node->pages.begin(), node->pages.begin() + num_prefix_pages);
  prefix->parent = node->parent;
  prefix->lock_count = node->lock_count;
  prefix->last_access = node->last_access;

  Node* parent = node->parent;
  auto slot = parent->children.find(first_page_key(node->tokens));
  std::unique_ptr<Node> suffix = std::move(slot->second);
  suffix->tokens.erase(suffix->tokens.begin(), suffix->tokens.begin() + prefix_tokens);
  suffix->pages.erase(suffix->pages.begin(), suffix->pages.begin() + num_prefix_pages);
  suffix->parent = prefix.get();
  Node* prefix_node = prefix.get();
  prefix->children.emplace(first_page_key(suffix->tokens), std::move(suffix));
  slot->second = std::move(prefix);
  return prefix_node;
}

RadixCache::Match RadixCache::match_prefix(std::span<const int32_t> tokens) {
  ++clock_;
  Match match;
  Node* node = root_.get();
  size_t position = 0;
  while (position + page_size_ <= tokens.size()) {
    auto found = node->children.find(first_page_key(tokens.subspan(position)));
    if (found == node->children.end()) break;
    Node* child = found->second.get();
    const int child_pages = static_cast<int>(child->pages.size());
    int matched_pages = 1;
    while (matched_pages < child_pages && position + (matched_pages + 1) * page_size_ <= tokens.size() &&
           std::equal(child->tokens.begin() + matched_pages * page_size_,
                      child->tokens.begin() + (matched_pages + 1) * page_size_,
                      tokens.begin() + position + matched_pages * page_size_)) {
      ++matched_pages;
    }
    if (matched_pages < child_pages) child = split(child, matched_pages);
    match.pages.insert(match.pages.end(), child->pages.begin(), child->pages.end());
    position += child->tokens.size();
    touch(child);
    node = child;
    if (matched_pages < child_pages) break;
  }
  match.node = node;
  return match;
}

RadixCache::Node* RadixCache::insert(std::span<const int32_t> tokens, std::span<int32_t> pages) {
  DSINFER_CHECK(tokens.size() == pages.size() * page_size_, "radix cache insert: ", tokens.size(),
                " tokens do not fill ", pages.size(), " pages of ", page_size_);
  ++clock_;
  Node* node = root_.get();
  size_t position = 0;
  size_t page_index = 0;
  while (position < tokens.size()) {
    auto found = node->children.find(first_page_key(tokens.subspan(position)));
    if (found == node->children.end()) {
      auto leaf = std::make_unique<Node>();
      leaf->tokens.assign(tokens.begin() + position, tokens.end());
      leaf->pages.assign(pages.begin() + page_index, pages.end());
      leaf->parent = node;
      leaf->last_access = clock_;
      Node* leaf_node = leaf.get();
      num_cached_pages_ += static_cast<int>(leaf->pages.size());
      num_evictable_pages_ += static_cast<int>(leaf->pages.size());
      node->children.emplace(first_page_key(leaf->tokens), std::move(leaf));
      update_evictable_leaf(node);
      update_evictable_leaf(leaf_node);
      return leaf_node;
    }
    Node* child = found->second.get();
    const size_t remaining_pages = pages.size() - page_index;
    const int child_pages = static_cast<int>(child->pages.size());
    int matched_pages = 1;
    while (matched_pages < child_pages && static_cast<size_t>(matched_pages) < remaining_pages &&
           std::equal(child->tokens.begin() + matched_pages * page_size_,
                      child->tokens.begin() + (matched_pages + 1) * page_size_,
                      tokens.begin() + position + matched_pages * page_size_)) {
      ++matched_pages;
    }
    if (matched_pages < child_pages) child = split(child, matched_pages);
    for (int i = 0; i < matched_pages; ++i) {
      int32_t& page = pages[page_index + i];
      if (page != child->pages[i]) {
        pool_.release(std::span<const int32_t>(&page, 1));  // the caller computed a duplicate
        page = child->pages[i];
      }
    }
    position += child->tokens.size();
    page_index += child->pages.size();
    touch(child);
    node = child;
  }
  return node;
}

void RadixCache::lock(Node* node) {
  for (; node != nullptr && node != root_.get(); node = node->parent) {
    if (node->lock_count++ == 0) {
      num_evictable_pages_ -= static_cast<int>(node->pages.size());
      update_evictable_leaf(node);
    }
  }
}

void RadixCache::unlock(Node* node) {
  for (; node != nullptr && node != root_.get(); node = node->parent) {
    DSINFER_CHECK(node->lock_count > 0, "radix cache: unlock of a node that is not locked");
    if (--node->lock_count == 0) {
      num_evictable_pages_ += static_cast<int>(node->pages.size());
      update_evictable_leaf(node);
    }
  }
}

int RadixCache::evict(int num_pages) {
  int freed = 0;
  while (freed < num_pages && !evictable_leaves_.empty()) {
    Node* leaf = evictable_leaves_.begin()->second;
    const int leaf_pages = static_cast<int>(leaf->pages.size());
    const int take = std::min(leaf_pages, num_pages - freed);
    if (take < leaf_pages) {
      // Drop only the tail: the head of the prefix is the part most likely to be shared again.
      pool_.release(std::span<const int32_t>(leaf->pages).subspan(static_cast<size_t>(leaf_pages - take)));
      leaf->pages.resize(static_cast<size_t>(leaf_pages - take));
      leaf->tokens.resize(leaf->pages.size() * page_size_);
    } else {
      pool_.release(leaf->pages);
      evictable_leaves_.erase(evictable_leaves_.begin());
      leaf->in_lru = false;
      Node* parent = leaf->parent;
      parent->children.erase(first_page_key(leaf->tokens));  // destroys leaf
      update_evictable_leaf(parent);
    }
    freed += take;
    num_cached_pages_ -= take;
    num_evictable_pages_ -= take;
  }
  return freed;
}

bool RadixCache::flush() {
  if (num_evictable_pages_ != num_cached_pages_) return false;  // some node is locked
  evict(num_cached_pages_);
  return true;
}

}  // namespace dsinfer
