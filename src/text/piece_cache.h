// Thread-safe, bounded cache from a pre-tokenized piece to its BPE ids. Sharded so that server threads that
// encode at the same time rarely wait for each other; a full shard is cleared (pieces repeat heavily in text,
// so the cache refills with the frequent ones).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dsinfer::text {

class PieceCache {
 public:
  // Pieces longer than this are not cached (as in tokenizers: long pieces are rare and would crowd the
  // cache).
  static constexpr size_t kMaxPieceBytes = 256;
  static constexpr size_t kShardCount = 16;
  static constexpr size_t kEntriesPerShard = 4096;

  // Appends the cached ids of `piece` to ids and returns true, or returns false when it is not cached.
  bool lookup(std::string_view piece, std::vector<int32_t>& ids) const;
  void insert(std::string_view piece, const int32_t* ids, size_t count);

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, std::vector<int32_t>, Hash, std::equal_to<>> entries;
  };
  Shard& shard_for(size_t hash) const { return shards_[(hash >> 7) % kShardCount]; }

  mutable std::array<Shard, kShardCount> shards_;
};

}  // namespace dsinfer::text
