// DeepSeek-V3's pre-tokenizer: a Sequence of three `Split` regexes with Isolated behaviour, each applied
// inside the pieces of the previous one, then the byte-level mapping (done by the BPE model on raw bytes):
//   1. \p{N}{1,3}
//   2. [\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+
//   3. [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
//      ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// A hand-written matcher reproduces Oniguruma's leftmost, first-alternative-wins semantics for exactly these
// patterns (pre_tokenizer.cpp explains each alternative); `check_pre_tokenizer_config` refuses any other.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace dsinfer::text {

// Throws dsinfer::Error naming `file` unless `pre_tokenizer` (the tokenizer.json field) is the sequence
// above.
void check_pre_tokenizer_config(const nlohmann::json& pre_tokenizer, const std::string& file);

// Appends to `pieces` the pre-tokenized pieces of valid UTF-8 `text`; they are views into text and cover it
// exactly, in order.
void pre_tokenize(std::string_view text, std::vector<std::string_view>& pieces);

}  // namespace dsinfer::text
