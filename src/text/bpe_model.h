// Byte-pair encoding of one pre-tokenized piece, as Hugging Face's BPE model does it: start from one symbol
// per byte, then repeatedly merge the adjacent pair with the lowest merge rank (leftmost among equal ranks)
// until no pair has a rank. Results are cached per piece, as in tokenizers.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/piece_cache.h"

namespace dsinfer::text {

class BpeModel {
 public:
  // vocab: token spelled in the byte-level alphabet -> id; merges: pairs of such tokens, in rank order.
  // `source` names the file for error messages.
  BpeModel(const std::unordered_map<std::string, int32_t>& vocab,
           const std::vector<std::pair<std::string, std::string>>& merges, const std::string& source);

  // Appends the ids of one piece (raw bytes, not byte-level spelled).
  void encode_piece(std::string_view piece, std::vector<int32_t>& ids) const;

 private:
  struct Merge {
    uint32_t rank;
    int32_t merged_id;
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
  }
  // The merge of (left, right), or nullptr. An open-addressing table (linear probing, at most half full):
  // this lookup is the inner loop of BPE.
  const Merge* find_merge(int32_t left, int32_t right) const;
  void insert_merge(int32_t left, int32_t right, Merge merge);
  size_t slot_of(uint64_t key) const { return size_t((key * 0x9E3779B97F4A7C15ull) >> merge_shift_); }
  void merge_symbols(std::string_view piece, std::vector<int32_t>& ids) const;

  static constexpr uint64_t kEmptyKey = ~uint64_t{0};  // no pair of non-negative ids has this key
  struct MergeSlot {
    uint64_t key = kEmptyKey;
    Merge merge{};
  };
  std::array<int32_t, 256> byte_ids_{};  // id of each single byte
  std::vector<MergeSlot> merge_slots_;   // (left id, right id) -> rank and merged id
  int merge_shift_ = 64;                 // 64 - log2(slot count)
  mutable PieceCache cache_;
};

}  // namespace dsinfer::text
