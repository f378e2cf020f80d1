#include "text/tokenizer.h"

#include <algorithm>
#include <unordered_map>

#include "core/error.h"
#include "text/added_tokens.h"
#include "text/bpe_model.h"
#include "text/byte_level.h"
#include "text/files.h"
#include "text/pre_tokenizer.h"
#include "text/utf8.h"

namespace dsinfer::text {

struct Tokenizer::Impl {
  std::unordered_map<std::string, int32_t> vocab;  // byte-level spelled token -> id
  std::unordered_map<std::string, int32_t> added_token_ids;
  std::unique_ptr<BpeModel> bpe;
  // tokenizers matches added tokens in two passes: those with normalized = false on the input, then those
  // with normalized = true inside the gaps (on normalized text; the normalizer is checked to be empty).
  std::unique_ptr<AddedTokenMatcher> raw_added_tokens;
  std::unique_ptr<AddedTokenMatcher> normalized_added_tokens;
  std::vector<std::string> bytes_of_id;  // what decode emits per id
  std::vector<uint8_t> id_is_special;
  std::string bos_token, eos_token;
  int32_t bos_id = -1, eos_id = -1;
  bool add_bos = false;

  // Fills the id tables and added-token matchers from the vocabulary and the added tokens.
  void index_tokens(const std::vector<AddedToken>& added_tokens);
  // tokenizer_config.json: add_bos_token, bos_token, eos_token.
  void read_config(const std::string& model_dir, const std::string& tokenizer_path);

  void encode_pieces(std::string_view plain_text, std::vector<int32_t>& ids) const {
    thread_local std::vector<std::string_view> pieces;
    pieces.clear();
    pre_tokenize(plain_text, pieces);
    for (std::string_view piece : pieces) bpe->encode_piece(piece, ids);
  }

  // Splits text at added tokens: on_plain(text between tokens), on_token(id), in order.
  template <typename OnPlain, typename OnToken>
  void split_at_added_tokens(std::string_view text, OnPlain&& on_plain, OnToken&& on_token) const {
    thread_local std::vector<AddedTokenMatch> raw_matches, normalized_matches;
    raw_matches.clear();
    raw_added_tokens->find(text, raw_matches);
    size_t position = 0;
    auto handle_gap = [&](std::string_view gap) {
      normalized_matches.clear();
      normalized_added_tokens->find(gap, normalized_matches);
      size_t gap_position = 0;
      for (const AddedTokenMatch& match : normalized_matches) {
        if (match.begin > gap_position) on_plain(gap.substr(gap_position, match.begin - gap_position));
        on_token(match.id);
        gap_position = match.end;
      }
      if (gap_position < gap.size()) on_plain(gap.substr(gap_position));
    };
    for (const AddedTokenMatch& match : raw_matches) {
      if (match.begin > position) handle_gap(text.substr(position, match.begin - position));
      on_token(match.id);
      position = match.end;
    }
    if (position < text.size()) handle_gap(text.substr(position));
  }
};

namespace {

void check_valid_utf8(std::string_view text) {
  const size_t invalid_at = find_invalid_utf8(text);
  DSINFER_CHECK(invalid_at == std::string_view::npos, "text to encode is not valid UTF-8 (byte offset ",
                invalid_at, ")");
}

const nlohmann::json& require(const nlohmann::json& object, const char* key, const std::string& where) {
  DSINFER_CHECK(object.is_object() && object.contains(key), where, " has no \"", key, "\"");
  return object[key];
}

// The BPE options that tokenizers supports but DeepSeek does not use; refuse rather than ignore them.
void check_bpe_options(const nlohmann::json& model, const std::string& path) {
  DSINFER_CHECK(model.value("type", "BPE") == "BPE", path, ": model.type is \"", model.value("type", ""),
                "\"; only BPE is supported");
  auto must_be_unset = [&](const char* key) {
    const bool unset = !model.contains(key) || model[key].is_null() ||
                       (model[key].is_string() && model[key].get<std::string>().empty());
    DSINFER_CHECK(unset, path, ": model.", key, " is set; dsinfer supports byte-level BPE without it");
  };
  must_be_unset("dropout");
  must_be_unset("unk_token");
  must_be_unset("continuing_subword_prefix");
  must_be_unset("end_of_word_suffix");
  DSINFER_CHECK(!model.value("byte_fallback", false), path, ": model.byte_fallback is not supported");
  DSINFER_CHECK(!model.value("ignore_merges", false), path, ": model.ignore_merges is not supported");
}

void check_pipeline(const nlohmann::json& root, const std::string& path) {
  const auto& normalizer = root.value("normalizer", nlohmann::json());
  const bool empty_normalizer =
      normalizer.is_null() || (normalizer.value("type", "") == "Sequence" &&
                               normalizer.value("normalizers", nlohmann::json::array()).empty());
  DSINFER_CHECK(empty_normalizer, path, ": normalizer is not supported (only none or an empty Sequence)");
  check_pre_tokenizer_config(require(root, "pre_tokenizer", path), path);
  const auto& decoder = require(root, "decoder", path);
  DSINFER_CHECK(decoder.value("type", "") == "ByteLevel", path, ": decoder.type must be ByteLevel");
  const auto& post_processor = root.value("post_processor", nlohmann::json());
  DSINFER_CHECK(post_processor.is_null() || post_processor.value("type", "") == "ByteLevel", path,
                ": post_processor.type must be ByteLevel or absent (one that adds tokens is not supported)");
}

std::vector<std::pair<std::string, std::string>> read_merges(const nlohmann::json& merges,
                                                             const std::string& path) {
  DSINFER_CHECK(merges.is_array(), path, ": model.merges must be an array");
  std::vector<std::pair<std::string, std::string>> pairs;
  pairs.reserve(merges.size());
  for (size_t index = 0; index < merges.size(); ++index) {
    const auto& merge = merges[index];
    if (merge.is_string()) {  // "left right"
      const auto& text = merge.get_ref<const std::string&>();
      const size_t space = text.find(' ');
      DSINFER_CHECK(space != std::string::npos && text.find(' ', space + 1) == std::string::npos, path,
                    ": model.merges[", index, "] must be two tokens separated by one space");
      pairs.emplace_back(text.substr(0, space), text.substr(space + 1));
    } else {  // ["left", "right"]
      DSINFER_CHECK(merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string(),
                    path, ": model.merges[", index, "] must be a string or a pair of strings");
      pairs.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
    }
  }
  return pairs;
}

std::unordered_map<std::string, int32_t> read_vocabulary(const nlohmann::json& model,
                                                         const std::string& path) {
  const auto& vocab = require(model, "vocab", path + " model");
  DSINFER_CHECK(vocab.is_object() && !vocab.empty(), path, ": model.vocab must be a non-empty object");
  std::unordered_map<std::string, int32_t> ids;
  ids.reserve(vocab.size());
  for (const auto& [token, id] : vocab.items()) {
    DSINFER_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() < INT32_MAX, path,
                  ": model.vocab[\"", token, "\"] must be a non-negative integer id");
    ids.emplace(token, id.get<int32_t>());
  }
  return ids;
}

// The added tokens in file order, each content once (tokenizers keeps the first of a repeated content).
std::vector<AddedToken> read_added_tokens(const nlohmann::json& root,
                                          const std::unordered_map<std::string, int32_t>& vocab,
                                          const std::string& path) {
  std::vector<AddedToken> tokens;
  std::unordered_map<std::string, int32_t> seen;
  const auto& entries = root.value("added_tokens", nlohmann::json::array());
  int64_t largest_id = -1;
  for (size_t index = 0; index < entries.size(); ++index) {
    const std::string where = path + ": added_tokens[" + std::to_string(index) + "]";
    AddedToken token = parse_added_token(entries[index], where);
    if (!seen.emplace(token.content, token.id).second) continue;
    // tokenizers does not take the ids from the file: a string already in the vocabulary keeps its id, the
    // others are numbered after the vocabulary. Refuse a file whose ids disagree rather than guess.
    const auto in_vocab = vocab.find(token.content);
    const int64_t assigned = in_vocab != vocab.end()               ? in_vocab->second
                             : largest_id >= int64_t(vocab.size()) ? largest_id + 1
                                                                   : int64_t(vocab.size());
    DSINFER_CHECK(
        token.id == assigned, where, " \"", token.content, "\" has id ", token.id,
        " but Hugging Face tokenizers gives it id ", assigned,
        " (the vocabulary's id for a string in model.vocab, else the next id after the vocabulary and "
        "the added tokens before it)");
    largest_id = std::max(largest_id, assigned);
    tokens.push_back(std::move(token));
  }
  return tokens;
}

}  // namespace

void Tokenizer::Impl::index_tokens(const std::vector<AddedToken>& added_tokens) {
  int32_t max_id = -1;
  for (const auto& [token, id] : vocab) max_id = std::max(max_id, id);
  for (const AddedToken& token : added_tokens) max_id = std::max(max_id, token.id);
  bytes_of_id.resize(size_t(max_id) + 1);
  id_is_special.assign(size_t(max_id) + 1, 0);
  for (const auto& [token, id] : vocab) {
    // tokenizers' ByteLevel decoder keeps a token's own UTF-8 when it is not spelled in the byte alphabet.
    bytes_of_id[id] = byte_level_to_bytes(token).value_or(token);
  }
  std::vector<AddedToken> raw_tokens, normalized_tokens;
  for (const AddedToken& token : added_tokens) {
    bytes_of_id[token.id] = token.content;
    id_is_special[token.id] = token.special;
    added_token_ids[token.content] = token.id;
    (token.normalized ? normalized_tokens : raw_tokens).push_back(token);
  }
  raw_added_tokens = std::make_unique<AddedTokenMatcher>(raw_tokens);
  normalized_added_tokens = std::make_unique<AddedTokenMatcher>(normalized_tokens);
}

void Tokenizer::Impl::read_config(const std::string& model_dir, const std::string& tokenizer_path) {
  const std::string path = model_dir + "/tokenizer_config.json";
  const nlohmann::json config = read_json_file(path);
  const auto& add_bos_token = config.value("add_bos_token", nlohmann::json(false));
  DSINFER_CHECK(add_bos_token.is_boolean(), path, ": add_bos_token must be true or false");
  add_bos = add_bos_token.get<bool>();
  auto resolve = [&](const char* key, std::string& content, int32_t& id) {
    content = special_token_content(config, key, path);
    if (content.empty()) return;
    if (auto found = added_token_ids.find(content); found != added_token_ids.end()) {
      id = found->second;
    } else if (auto in_vocab = vocab.find(content); in_vocab != vocab.end()) {
      id = in_vocab->second;
    } else {
      fail(path, ": ", key, " \"", content, "\" is not a token of ", tokenizer_path);
    }
  };
  resolve("bos_token", bos_token, bos_id);
  resolve("eos_token", eos_token, eos_id);
  DSINFER_CHECK(!add_bos || bos_id >= 0, path, ": add_bos_token is true but no bos_token is set");
}

Tokenizer Tokenizer::load(const std::string& model_dir) {
  auto impl = std::make_shared<Impl>();
  const std::string path = model_dir + "/tokenizer.json";
  const nlohmann::json root = read_json_file(path);
  check_pipeline(root, path);
  const auto& model = require(root, "model", path);
  check_bpe_options(model, path);
  impl->vocab = read_vocabulary(model, path);
  impl->bpe =
      std::make_unique<BpeModel>(impl->vocab, read_merges(require(model, "merges", path), path), path);
  impl->index_tokens(read_added_tokens(root, impl->vocab, path));
  impl->read_config(model_dir, path);
  return Tokenizer(impl);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  check_valid_utf8(text);
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 1);
  impl_->split_at_added_tokens(
      text, [&](std::string_view plain) { impl_->encode_pieces(plain, ids); },
      [&](int32_t id) { ids.push_back(id); });
  return ids;
}

std::vector<int32_t> Tokenizer::encode_plain(std::string_view text) const {
  check_valid_utf8(text);
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 1);
  impl_->encode_pieces(text, ids);
  return ids;
}

std::vector<int32_t> Tokenizer::encode_segments(std::span<const PromptSegment> segments) const {
  std::vector<int32_t> ids;
  std::string pending_plain;  // text since the last added token, across segment boundaries
  auto flush = [&] {
    impl_->encode_pieces(pending_plain, ids);
    pending_plain.clear();
  };
  for (const PromptSegment& segment : segments) {
    check_valid_utf8(segment.text);
    if (segment.user_supplied) {
      pending_plain += segment.text;
      continue;
    }
    impl_->split_at_added_tokens(
        segment.text, [&](std::string_view plain) { pending_plain += plain; },
        [&](int32_t id) {
          flush();
          ids.push_back(id);
        });
  }
  flush();
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (skip_special_tokens && is_special(id)) continue;
    bytes += token_bytes(id);
  }
  std::string text;
  text.reserve(bytes.size());
  append_utf8_lossy(bytes, /*at_end=*/true, text);
  return text;
}

std::string_view Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || size_t(id) >= impl_->bytes_of_id.size()) return {};
  return impl_->bytes_of_id[id];
}

int32_t Tokenizer::bos_id() const {
  return impl_->bos_id;
}
int32_t Tokenizer::eos_id() const {
  return impl_->eos_id;
}
bool Tokenizer::add_bos() const {
  return impl_->add_bos;
}
const std::string& Tokenizer::bos_token() const {
  return impl_->bos_token;
}
const std::string& Tokenizer::eos_token() const {
  return impl_->eos_token;
}
size_t Tokenizer::vocab_size() const {
  return impl_->bytes_of_id.size();
}

std::optional<int32_t> Tokenizer::token_id(std::string_view token) const {
  const std::string key(token);
  if (auto found = impl_->added_token_ids.find(key); found != impl_->added_token_ids.end())
    return found->second;
  if (auto found = impl_->vocab.find(key); found != impl_->vocab.end()) return found->second;
  return std::nullopt;
}

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && size_t(id) < impl_->id_is_special.size() && impl_->id_is_special[id];
}

}  // namespace dsinfer::text
