// Checkpoints whose shard is a fixture shard corrupted one way: each error must name the shard file and,
// where one is to blame, the tensor.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "io/checkpoint.h"
#include "io/checkpoint_copies.h"

namespace dsinfer {
namespace {

using ::testing::AllOf;
using testing::error_message;
using ::testing::HasSubstr;

constexpr const char* kModel = "dsv2-tiny-bf16";
constexpr const char* kShard = "model-00001-of-00001.safetensors";

// The fixture shard split into its parts, to be edited and joined again.
struct ShardParts {
  nlohmann::ordered_json header;  // in file order
  std::string data;
};

ShardParts read_parts() {
  std::string bytes = testing::read_file(testing::fixture_folder(kModel) + "/" + kShard);
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<uint8_t>(bytes[i]);
  return {nlohmann::ordered_json::parse(bytes.substr(8, length)), bytes.substr(8 + length)};
}

std::string join(const std::string& header_text, const std::string& data) {
  return testing::safetensors_image(header_text, 0) + data;
}

// Tensors in data order (the fixture writes them in that order).
std::string tensor_at(const ShardParts& parts, size_t position) {
  size_t index = 0;
  for (const auto& item : parts.header.items()) {
    if (item.key() == "__metadata__") continue;
    if (index++ == position) return item.key();
  }
  return "";
}

struct Corruption {
  std::string what;
  std::function<std::string(ShardParts&)> make;  // the corrupt shard's bytes
  std::vector<std::string> expected;             // substrings of the error besides the shard path
};

// gtest prints parameters; without this it would dump the struct's raw bytes, padding included.
void PrintTo(const Corruption& corruption, std::ostream* out) { *out << corruption.what; }

class CorruptShard : public ::testing::TestWithParam<Corruption> {};

TEST_P(CorruptShard, ErrorNamesTheShardAndTheTensor) {
  testing::TemporaryFolder folder;
  testing::copy_fixture_config(kModel, folder.path());
  std::filesystem::copy_file(testing::fixture_folder(kModel) + "/model.safetensors.index.json",
                             folder.file("model.safetensors.index.json"));
  ShardParts parts = read_parts();
  testing::write_file(folder.file(kShard), GetParam().make(parts));
  std::string message = error_message([&] { Checkpoint::open(folder.path()); });
  EXPECT_THAT(message, HasSubstr(folder.file(kShard)));
  for (const std::string& expected : GetParam().expected) EXPECT_THAT(message, HasSubstr(expected));
}

const ShardParts kParts = read_parts();
const std::string kFirst = tensor_at(kParts, 0);
const std::string kSecond = tensor_at(kParts, 1);
const std::string kLast = tensor_at(kParts, kParts.header.size() - 2);  // the header also holds __metadata__

INSTANTIATE_TEST_SUITE_P(
    Fixture, CorruptShard,
    ::testing::Values(
        Corruption{"BadJson",
                   [](ShardParts& parts) {
                     std::string text = parts.header.dump();
                     text.back() = ' ';  // the closing brace
                     return join(text, parts.data);
                   },
                   {"not valid JSON"}},
        Corruption{"BadUtf8",
                   [](ShardParts& parts) {
                     std::string text = parts.header.dump();
                     text[text.find(kSecond) + 3] = '\xff';
                     return join(text, parts.data);
                   },
                   {"not valid UTF-8"}},
        Corruption{"HeaderLengthTooLarge",
                   [](ShardParts& parts) {
                     std::string bytes = join(parts.header.dump(), parts.data);
                     uint64_t length = 200'000'000;
                     for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(length >> (8 * i));
                     return bytes;
                   },
                   {"header length 200000000 exceeds"}},
        Corruption{"HeaderLengthBeyondTheFile",
                   [](ShardParts& parts) {
                     std::string bytes = join(parts.header.dump(), parts.data);
                     uint64_t length = bytes.size();
                     for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(length >> (8 * i));
                     return bytes;
                   },
                   {"runs past the end of the file", "the download is probably incomplete"}},
        Corruption{"OverlappingOffsets",
                   [](ShardParts& parts) {
                     auto& offsets = parts.header[kSecond]["data_offsets"];
                     offsets = {offsets[0].get<uint64_t>() - 2, offsets[1].get<uint64_t>() - 2};
                     return join(parts.header.dump(), parts.data);
                   },
                   {"tensor \"" + kSecond + "\"", "overlap", "\"" + kFirst + "\""}},
        Corruption{"Gap",
                   [](ShardParts& parts) {
                     auto& offsets = parts.header[kLast]["data_offsets"];
                     offsets = {offsets[0].get<uint64_t>() + 2, offsets[1].get<uint64_t>() + 2};
                     return join(parts.header.dump(), parts.data + "..");
                   },
                   {"tensor \"" + kLast + "\"", "gap"}},
        Corruption{"TrailingBytes",
                   [](ShardParts& parts) { return join(parts.header.dump(), parts.data + "xyz"); },
                   {"3 trailing bytes"}},
        Corruption{"SizeIsNotShapeTimesDtype",
                   [](ShardParts& parts) {
                     parts.header[kFirst]["dtype"] = "F32";
                     return join(parts.header.dump(), parts.data);
                   },
                   {"tensor \"" + kFirst + "\"", "with dtype F32 and shape"}},
        Corruption{"DuplicateName",
                   [](ShardParts& parts) {
                     std::string text = parts.header.dump();
                     text.insert(1, "\"" + kSecond + "\":" + parts.header[kSecond].dump() + ",");
                     return join(text, parts.data);
                   },
                   {"tensor name \"" + kSecond + "\" appears more than once"}},
        Corruption{"Truncated",
                   [](ShardParts& parts) {
                     return join(parts.header.dump(), parts.data.substr(0, parts.data.size() - 1));
                   },
                   {"truncated", "tensor \"" + kLast + "\"", "the download is probably incomplete"}}),
    [](const ::testing::TestParamInfo<Corruption>& info) { return info.param.what; });

}  // namespace
}  // namespace dsinfer
