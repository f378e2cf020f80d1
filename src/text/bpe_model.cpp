#include "text/bpe_model.h"

#include <algorithm>
#include <bit>

#include "core/error.h"
#include "text/byte_level.h"

namespace dsinfer::text {

BpeModel::BpeModel(const std::unordered_map<std::string, int32_t>& vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges,
                   const std::string& source) {
  for (unsigned byte = 0; byte < 256; ++byte) {
    const std::string spelling(byte_level_spelling(static_cast<unsigned char>(byte)));
    auto found = vocab.find(spelling);
    DSINFER_CHECK(found != vocab.end(), source, ": model.vocab has no token for byte ", byte, " (spelled '",
                  spelling, "'); a byte-level BPE vocabulary needs all 256");
    byte_ids_[byte] = found->second;
  }
  size_t slot_count = 2;
  while (slot_count < 2 * merges.size()) slot_count *= 2;
  merge_slots_.resize(slot_count);
  merge_shift_ = 64 - std::countr_zero(slot_count);
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    auto left_id = vocab.find(left), right_id = vocab.find(right), merged_id = vocab.find(left + right);
    DSINFER_CHECK(left_id != vocab.end() && right_id != vocab.end() && merged_id != vocab.end(), source,
                  ": model.merges[", rank, "] '", left, " ", right,
                  "' uses a token that is not in model.vocab");
    // A repeated pair takes its last rank: tokenizers collects the merges into a hash map in file order.
    insert_merge(left_id->second, right_id->second, Merge{static_cast<uint32_t>(rank), merged_id->second});
  }
}

const BpeModel::Merge* BpeModel::find_merge(int32_t left, int32_t right) const {
  const uint64_t key = pair_key(left, right);
  const size_t mask = merge_slots_.size() - 1;
  for (size_t slot = slot_of(key);; slot = (slot + 1) & mask) {
    if (merge_slots_[slot].key == key) return &merge_slots_[slot].merge;
    if (merge_slots_[slot].key == kEmptyKey) return nullptr;
  }
}

void BpeModel::insert_merge(int32_t left, int32_t right, Merge merge) {
  const uint64_t key = pair_key(left, right);
  const size_t mask = merge_slots_.size() - 1;
  size_t slot = slot_of(key);
  while (merge_slots_[slot].key != kEmptyKey && merge_slots_[slot].key != key) slot = (slot + 1) & mask;
  merge_slots_[slot] = {key, merge};
}

void BpeModel::encode_piece(std::string_view piece, std::vector<int32_t>& ids) const {
  if (piece.size() == 1) {
    ids.push_back(byte_ids_[static_cast<unsigned char>(piece[0])]);
    return;
  }
  if (cache_.lookup(piece, ids)) return;
  const size_t first = ids.size();
  merge_symbols(piece, ids);
  cache_.insert(piece, ids.data() + first, ids.size() - first);
}

void BpeModel::merge_symbols(std::string_view piece, std::vector<int32_t>& ids) const {
  // Symbols form a linked list over the piece's bytes; `id < 0` marks one merged into its left neighbour.
  struct Symbol {
    int32_t id;
    int32_t previous;
    int32_t next;
  };
  // A candidate merge of the symbol at `position` with its right neighbour; candidates go stale when either
  // side changes and are then skipped.
  struct Candidate {
    uint32_t rank;
    uint32_t position;
    int32_t merged_id;
    bool operator>(const Candidate& other) const {
      return rank != other.rank ? rank > other.rank : position > other.position;
    }
  };
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Candidate> heap;
  symbols.clear();
  heap.clear();
  const int32_t count = static_cast<int32_t>(piece.size());
  for (int32_t i = 0; i < count; ++i) {
    symbols.push_back({byte_ids_[static_cast<unsigned char>(piece[i])], i - 1, i + 1 < count ? i + 1 : -1});
  }
  auto push_candidate = [&](int32_t position) {
    const Symbol& left = symbols[position];
    if (left.next < 0) return;
    const Merge* merge = find_merge(left.id, symbols[left.next].id);
    if (merge == nullptr) return;
    heap.push_back({merge->rank, static_cast<uint32_t>(position), merge->merged_id});
    std::push_heap(heap.begin(), heap.end(), std::greater<>{});
  };
  for (int32_t i = 0; i + 1 < count; ++i) push_candidate(i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>{});
    const Candidate candidate = heap.back();
    heap.pop_back();
    Symbol& left = symbols[candidate.position];
    if (left.id < 0 || left.next < 0) continue;
    const Merge* current = find_merge(left.id, symbols[left.next].id);
    if (current == nullptr || current->merged_id != candidate.merged_id) continue;

    Symbol& right = symbols[left.next];
    left.id = candidate.merged_id;
    left.next = right.next;
    right.id = -1;
    if (left.next >= 0) symbols[left.next].previous = static_cast<int32_t>(candidate.position);
    if (left.previous >= 0) push_candidate(left.previous);
    push_candidate(static_cast<int32_t>(candidate.position));
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) ids.push_back(symbols[i].id);
}

}  // namespace dsinfer::text
