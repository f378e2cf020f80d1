#include "text/bpe_model.h"

#include <algorithm>

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
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    auto left_id = vocab.find(left), right_id = vocab.find(right), merged_id = vocab.find(left + right);
    DSINFER_CHECK(left_id != vocab.end() && right_id != vocab.end() && merged_id != vocab.end(), source,
                  ": model.merges[", rank, "] '", left, " ", right,
                  "' uses a token that is not in model.vocab");
    // A repeated pair takes its last rank: tokenizers collects the merges into a hash map in file order.
    merges_.insert_or_assign(pair_key(left_id->second, right_id->second),
                             Merge{static_cast<uint32_t>(rank), merged_id->second});
  }
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
    auto found = merges_.find(pair_key(left.id, symbols[left.next].id));
    if (found == merges_.end()) return;
    heap.push_back({found->second.rank, static_cast<uint32_t>(position), found->second.merged_id});
    std::push_heap(heap.begin(), heap.end(), std::greater<>{});
  };
  for (int32_t i = 0; i + 1 < count; ++i) push_candidate(i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>{});
    const Candidate candidate = heap.back();
    heap.pop_back();
    Symbol& left = symbols[candidate.position];
    if (left.id < 0 || left.next < 0) continue;
    auto current = merges_.find(pair_key(left.id, symbols[left.next].id));
    if (current == merges_.end() || current->second.merged_id != candidate.merged_id) continue;

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
