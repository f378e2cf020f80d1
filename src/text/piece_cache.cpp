#include "text/piece_cache.h"

namespace dsinfer::text {

bool PieceCache::lookup(std::string_view piece, std::vector<int32_t>& ids) const {
  if (piece.size() > kMaxPieceBytes) return false;
  const size_t hash = Hash{}(piece);
  Shard& shard = shard_for(hash);
  std::lock_guard lock(shard.mutex);
  auto found = shard.entries.find(piece);
  if (found == shard.entries.end()) return false;
  ids.insert(ids.end(), found->second.begin(), found->second.end());
  return true;
}

void PieceCache::insert(std::string_view piece, const int32_t* ids, size_t count) {
  if (piece.size() > kMaxPieceBytes) return;
  Shard& shard = shard_for(Hash{}(piece));
  std::lock_guard lock(shard.mutex);
  if (shard.entries.size() >= kEntriesPerShard) shard.entries.clear();
  shard.entries.try_emplace(std::string(piece), ids, ids + count);
}

}  // namespace dsinfer::text
