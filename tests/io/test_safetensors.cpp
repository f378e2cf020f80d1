#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "io/io_test_support.h"
#include "io/safetensors.h"
#include "io/strict_json.h"

namespace dsinfer {
namespace {

using ::testing::AllOf;
using testing::error_message;
using ::testing::HasSubstr;
using testing::safetensors_image;

std::shared_ptr<SafetensorsFile> parse_image(const std::string& image) {
  return SafetensorsFile::parse("test.safetensors", image.data(), image.size());
}

TEST(Safetensors, WriteThenOpenRoundTripsEveryTensorAndTheMetadata) {
  testing::TemporaryFolder folder;
  Tensor matrix = Tensor::empty({2, 3}, DType::kF32);
  for (int i = 0; i < 6; ++i) matrix.data_as<float>()[i] = 0.5f * i - 1.0f;
  Tensor vector = Tensor::empty({4}, DType::kBF16);
  for (int i = 0; i < 4; ++i) vector.data_as<bf16>()[i] = float_to_bf16(i + 0.25f);
  Tensor ids = Tensor::empty({3}, DType::kI64);
  for (int i = 0; i < 3; ++i) ids.data_as<int64_t>()[i] = int64_t{1} << (20 * i);
  Tensor empty = Tensor::empty({0, 5}, DType::kF8E4M3);
  Tensor scalar = Tensor::empty({}, DType::kU8);
  scalar.data_as<uint8_t>()[0] = 7;

  std::string path = folder.file("round_trip.safetensors");
  write_safetensors(
      path, {{"matrix", matrix}, {"vector", vector}, {"ids", ids}, {"empty", empty}, {"scalar", scalar}},
      {{"format", "pt"}});

  // Header padded with spaces to a multiple of 8, as the reference writer does.
  std::string bytes = testing::read_file(path);
  uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), 8);
  EXPECT_EQ(header_length % 8, 0u);
  EXPECT_EQ(bytes[8], '{');

  auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  ASSERT_EQ(file->entries().size(), 5u);
  // Widest dtype first, then by name, so each tensor starts at a multiple of its element size.
  std::vector<std::string> order;
  for (const auto& entry : file->entries()) order.push_back(entry.name);
  EXPECT_EQ(order, (std::vector<std::string>{"ids", "matrix", "vector", "empty", "scalar"}));
  for (const auto& entry : file->entries())
    EXPECT_EQ(entry.data_begin % dtype_size(entry.dtype), 0u) << entry.name;

  Tensor read_matrix = file->tensor("matrix");
  EXPECT_EQ(read_matrix.shape(), (Shape{2, 3}));
  EXPECT_EQ(read_matrix.dtype(), DType::kF32);
  EXPECT_EQ(std::memcmp(read_matrix.data(), matrix.data(), matrix.nbytes()), 0);
  EXPECT_EQ(std::memcmp(file->tensor("vector").data(), vector.data(), vector.nbytes()), 0);
  EXPECT_EQ(file->tensor("ids").data_as<int64_t>()[2], int64_t{1} << 40);
  EXPECT_EQ(file->tensor("empty").shape(), (Shape{0, 5}));
  EXPECT_EQ(file->tensor("scalar").shape(), Shape{});
  EXPECT_EQ(file->tensor("scalar").data_as<uint8_t>()[0], 7);
  EXPECT_EQ(file->file_size(), bytes.size());

  // The same bytes parse the same from memory.
  auto in_memory = SafetensorsFile::parse("copy", bytes.data(), bytes.size());
  EXPECT_EQ(in_memory->entry("ids").data_end, file->entry("ids").data_end);
}

TEST(Safetensors, ViewsOutliveTheFileObjectAndReadFixtureData) {
  Tensor norm;
  {
    auto file = SafetensorsFile::open(testing::fixture_folder("dsv3-tiny-bf16") +
                                      "/model-00001-of-00001.safetensors");
    EXPECT_EQ(file->metadata().at("format"), "pt");
    norm = file->tensor("model.norm.weight");
  }
  // The view keeps the mapping alive. Values read with Python's struct module from the fixture.
  ASSERT_EQ(norm.shape(), (Shape{192}));
  EXPECT_EQ(norm.dtype(), DType::kBF16);
  const bf16* values = norm.data_as<bf16>();
  EXPECT_EQ(values[0].bits, 0x3f94);
  EXPECT_EQ(values[1].bits, 0x3f67);
  EXPECT_EQ(values[2].bits, 0x3f77);
  EXPECT_EQ(values[3].bits, 0x3f7f);
}

TEST(Safetensors, AcceptsEveryDtypeAndRejectsAnUnknownOne) {
  const char* names[] = {"BOOL", "U8",  "I8",   "I16", "U16", "I32",     "U32",    "I64",
                         "U64",  "F16", "BF16", "F32", "F64", "F8_E4M3", "F8_E5M2"};
  for (const char* name : names) {
    DType dtype;
    ASSERT_TRUE(parse_dtype(name, &dtype)) << name;
    size_t bytes = 3 * dtype_size(dtype);
    std::string header = std::string("{\"t\":{\"dtype\":\"") + name +
                         "\",\"shape\":[3],\"data_offsets\":[0," + std::to_string(bytes) + "]}}";
    auto file = parse_image(safetensors_image(header, bytes));
    EXPECT_EQ(file->entry("t").dtype, dtype) << name;
  }
  std::string message = error_message(
      [] { parse_image(safetensors_image(R"({"w":{"dtype":"F7","shape":[1],"data_offsets":[0,1]}})", 1)); });
  EXPECT_THAT(message,
              AllOf(HasSubstr("test.safetensors"), HasSubstr("\"w\""), HasSubstr("unknown dtype \"F7\"")));
}

TEST(Safetensors, RejectsAFileTooShortForTheHeaderLength) {
  std::string message = error_message([] { parse_image("abc"); });
  EXPECT_THAT(message, AllOf(HasSubstr("test.safetensors"), HasSubstr("truncated"),
                             HasSubstr("the download is probably incomplete")));
}

TEST(Safetensors, RejectsAHeaderLengthOverTheLimit) {
  std::string image(8, '\0');
  uint64_t length = 100'000'001;
  std::memcpy(image.data(), &length, 8);
  image += "{}";
  EXPECT_THAT(error_message([&] { parse_image(image); }),
              AllOf(HasSubstr("test.safetensors"), HasSubstr("header length 100000001 exceeds")));
}

TEST(Safetensors, RejectsAHeaderLengthBeyondTheFile) {
  std::string image = safetensors_image("{}", 0);
  image[0] = 40;  // claims a 40-byte header, the file has 2
  EXPECT_THAT(error_message([&] { parse_image(image); }),
              AllOf(HasSubstr("test.safetensors"), HasSubstr("runs past the end of the file"),
                    HasSubstr("the download is probably incomplete")));
}

TEST(Safetensors, RejectsBadJsonAndAHeaderThatIsNotAnObject) {
  EXPECT_THAT(error_message([] { parse_image(safetensors_image(R"({"w":{"dtype":"F32",)", 0)); }),
              AllOf(HasSubstr("test.safetensors"), HasSubstr("not valid JSON")));
  // A number too large for a double is nlohmann's out_of_range, not a parse_error (found by
  // fuzz_safetensors).
  EXPECT_THAT(
      error_message([] { parse_image(safetensors_image(R"({"s":1.5E1111111111:[0]})", 0)); }),
      AllOf(HasSubstr("test.safetensors"), HasSubstr("not valid JSON"), HasSubstr("number overflow")));
  EXPECT_THAT(error_message([] { parse_image(safetensors_image("[1, 2]", 0)); }),
              AllOf(HasSubstr("test.safetensors"), HasSubstr("does not start with '{'")));
  EXPECT_THAT(error_message([] { parse_image(safetensors_image(R"({"w": 3})", 0)); }),
              AllOf(HasSubstr("test.safetensors"), HasSubstr("\"w\""), HasSubstr("must map to an object")));
}

TEST(Safetensors, RejectsInvalidUtf8InTheHeader) {
  // "\xc3\x28" is a 2-byte lead followed by a non-continuation byte; "\xed\xa0\x80" a UTF-16 surrogate.
  for (std::string bad : {std::string("\xc3\x28"), std::string("\xed\xa0\x80"), std::string("\xc0\xaf")}) {
    std::string header = "{\"w" + bad + "\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
    EXPECT_THAT(error_message([&] { parse_image(safetensors_image(header, 1)); }),
                AllOf(HasSubstr("test.safetensors"), HasSubstr("not valid UTF-8"), HasSubstr("offset 3")));
  }
  // Valid multi-byte names are fine.
  auto file = parse_image(safetensors_image(
      "{\"w\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
      1));
  EXPECT_TRUE(file->contains("w\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
}

TEST(Safetensors, RejectsDuplicateTensorNamesAndDuplicateKeys) {
  std::string duplicate_names = R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                                R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})";
  EXPECT_THAT(error_message([&] { parse_image(safetensors_image(duplicate_names, 2)); }),
              AllOf(HasSubstr("test.safetensors"), HasSubstr("tensor name \"a\" appears more than once")));
  std::string duplicate_keys = R"({"a":{"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]}})";
  EXPECT_THAT(
      error_message([&] { parse_image(safetensors_image(duplicate_keys, 1)); }),
      AllOf(HasSubstr("test.safetensors"), HasSubstr("key \"dtype\" appears more than once inside \"a\"")));
}

TEST(Safetensors, RejectsMetadataThatIsNotAStringMap) {
  EXPECT_THAT(error_message([] { parse_image(safetensors_image(R"({"__metadata__":{"format":1}})", 0)); }),
              AllOf(HasSubstr("test.safetensors"), HasSubstr("__metadata__"), HasSubstr("\"format\"")));
  EXPECT_THAT(error_message([] { parse_image(safetensors_image(R"({"__metadata__":[]})", 0)); }),
              HasSubstr("\"__metadata__\" must be an object of strings"));
}

TEST(Safetensors, RejectsBadShapesAndOffsets) {
  auto message_for = [](const std::string& header, size_t data_bytes) {
    return error_message([&] { parse_image(safetensors_image(header, data_bytes)); });
  };
  EXPECT_THAT(message_for(R"({"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}})", 0),
              AllOf(HasSubstr("\"w\""), HasSubstr("not a non-negative integer")));
  EXPECT_THAT(message_for(R"({"w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,0]}})", 0),
              AllOf(HasSubstr("\"w\""), HasSubstr("not a non-negative integer")));
  EXPECT_THAT(message_for(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0]}})", 0),
              AllOf(HasSubstr("\"w\""), HasSubstr("data_offsets")));
  EXPECT_THAT(message_for(R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[2,1]}})", 0),
              AllOf(HasSubstr("\"w\""), HasSubstr("end before begin")));
  // 2^32 x 2^32 elements wrap to 0 in 64 bits: must be caught, not matched against an empty span.
  EXPECT_THAT(message_for(R"({"w":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0),
              AllOf(HasSubstr("\"w\""), HasSubstr("overflows")));
  EXPECT_THAT(message_for(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 20),
              AllOf(HasSubstr("test.safetensors"), HasSubstr("\"w\""), HasSubstr("needs 24 bytes"),
                    HasSubstr("span 20")));
}

TEST(Safetensors, RejectsOverlapsGapsAndAStartOtherThanZero) {
  auto message_for = [](const std::string& header, size_t data_bytes) {
    return error_message([&] { parse_image(safetensors_image(header, data_bytes)); });
  };
  EXPECT_THAT(message_for(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                          R"("b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})",
                          6),
              AllOf(HasSubstr("test.safetensors"), HasSubstr("\"b\""), HasSubstr("overlap"),
                    HasSubstr("previous tensor \"a\" ends at 4")));
  EXPECT_THAT(message_for(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                          R"("b":{"dtype":"U8","shape":[4],"data_offsets":[5,9]}})",
                          9),
              AllOf(HasSubstr("test.safetensors"), HasSubstr("\"b\""), HasSubstr("gap")));
  EXPECT_THAT(message_for(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[1,5]}})", 5),
              AllOf(HasSubstr("\"a\""), HasSubstr("data section starts at 0")));
  // Two tensors with the very same span overlap too.
  EXPECT_THAT(message_for(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                          R"("b":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})",
                          4),
              AllOf(HasSubstr("\"b\""), HasSubstr("overlap")));
}

TEST(Safetensors, RejectsTrailingBytesAndTruncatedData) {
  std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";
  EXPECT_THAT(error_message([&] { parse_image(safetensors_image(header, 17)); }),
              AllOf(HasSubstr("test.safetensors"), HasSubstr("1 trailing bytes")));
  EXPECT_THAT(error_message([&] { parse_image(safetensors_image(header, 12)); }),
              AllOf(HasSubstr("test.safetensors"), HasSubstr("truncated"),
                    HasSubstr("the download is probably incomplete"),
                    HasSubstr("tensor \"b\" ends at data byte 16"), HasSubstr("holds only 12")));
}

TEST(Safetensors, OpenNamesTheFileForMissingAndTruncatedFiles) {
  testing::TemporaryFolder folder;
  std::string missing = folder.file("absent.safetensors");
  EXPECT_THAT(error_message([&] { SafetensorsFile::open(missing); }),
              AllOf(HasSubstr("cannot open"), HasSubstr(missing)));
  EXPECT_THAT(error_message([&] { SafetensorsFile::open(folder.path()); }), HasSubstr("not a regular file"));

  std::string path = folder.file("cut.safetensors");
  write_safetensors(path, {{"weight", Tensor::zeros({64, 64}, DType::kBF16)}});
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 100);
  EXPECT_THAT(
      error_message([&] { SafetensorsFile::open(path); }),
      AllOf(HasSubstr(path), HasSubstr("\"weight\""), HasSubstr("the download is probably incomplete")));
  std::filesystem::resize_file(path, 0);
  EXPECT_THAT(error_message([&] { SafetensorsFile::open(path); }),
              AllOf(HasSubstr(path), HasSubstr("0 bytes"), HasSubstr("the download is probably incomplete")));
}

TEST(Safetensors, EntryNamesTheFileForAnAbsentTensor) {
  auto file = parse_image(safetensors_image(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", 1));
  EXPECT_FALSE(file->contains("b"));
  EXPECT_THAT(error_message([&] { file->tensor("b"); }),
              AllOf(HasSubstr("\"b\""), HasSubstr("test.safetensors")));
}

TEST(Safetensors, WriteRejectsDuplicateAndReservedNames) {
  testing::TemporaryFolder folder;
  std::string path = folder.file("bad.safetensors");
  Tensor tensor = Tensor::zeros({2}, DType::kF32);
  EXPECT_THAT(error_message([&] {
                write_safetensors(path, {{"x", tensor}, {"x", tensor}});
              }),
              AllOf(HasSubstr(path), HasSubstr("\"x\" is given twice")));
  EXPECT_THAT(error_message([&] {
                write_safetensors(path, {{"__metadata__", tensor}});
              }),
              HasSubstr("not a tensor name"));
}

TEST(StrictJson, ValidatesUtf8ByTheUnicodeTable) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("\xdf\xbf\xef\xbf\xbf\xf4\x8f\xbf\xbf"));  // U+07FF, U+FFFF, U+10FFFF
  size_t offset = 0;
  EXPECT_FALSE(is_valid_utf8("ab\xf4\x90\x80\x80", &offset));  // U+110000
  EXPECT_EQ(offset, 2u);
  EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf", &offset));  // overlong
  EXPECT_FALSE(is_valid_utf8("\xe2\x82", &offset));      // cut short
  EXPECT_FALSE(is_valid_utf8("\x80", &offset));          // lone continuation
  EXPECT_FALSE(is_valid_utf8("\xf8\x88\x80\x80\x80", &offset));
}

}  // namespace
}  // namespace dsinfer
