// Deterministic mutation fuzzing of the safetensors parser: thousands of seeded corruptions of a small valid
// file (bit flips, byte stores, truncations, extensions, splices, header rewrites). Each must either parse
// with every invariant holding or throw dsinfer::Error: never crash, never another exception, never a view
// outside the file. Run under valgrind or ASan to check the "never out of bounds" part too.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "io/io_test_support.h"
#include "io/safetensors_invariants.h"

namespace dsinfer {
namespace {

using Bytes = std::string;
using Random = std::mt19937_64;

// A valid file with several dtypes, an empty tensor, a scalar and metadata.
Bytes seed_image() {
  testing::TemporaryFolder folder;
  Tensor weights = Tensor::empty({3, 4}, DType::kBF16);
  for (int i = 0; i < 12; ++i) weights.data_as<bf16>()[i] = float_to_bf16(0.1f * i);
  Tensor scale = Tensor::empty({1, 2}, DType::kF32);
  scale.data_as<float>()[0] = 0.5f;
  scale.data_as<float>()[1] = 2.0f;
  Tensor ids = Tensor::empty({2}, DType::kI64);
  ids.data_as<int64_t>()[0] = 3;
  ids.data_as<int64_t>()[1] = 42;
  Tensor codes = Tensor::empty({5}, DType::kF8E4M3);
  for (int i = 0; i < 5; ++i) codes.data_as<uint8_t>()[i] = static_cast<uint8_t>(0x30 + i);
  Tensor scalar = Tensor::empty({}, DType::kU8);
  scalar.data_as<uint8_t>()[0] = 9;
  std::string path = folder.file("seed.safetensors");
  write_safetensors(path,
                    {{"layer.weight", weights},
                     {"layer.weight_scale_inv", scale},
                     {"ids", ids},
                     {"codes", codes},
                     {"empty", Tensor::empty({0, 7}, DType::kF16)},
                     {"scalar", scalar}},
                    {{"format", "pt"}});
  return testing::read_file(path);
}

uint64_t header_length_of(const Bytes& image) {
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<uint8_t>(image[i]);
  return length;
}

Bytes with_header(const Bytes& header, const Bytes& data) {
  Bytes image(8, '\0');
  for (int i = 0; i < 8; ++i) image[i] = static_cast<char>(static_cast<uint64_t>(header.size()) >> (8 * i));
  return image + header + data;
}

size_t below(Random& random, size_t bound) {
  return bound == 0 ? 0 : random() % bound;
}

// Numbers that break arithmetic: zero, small, around 2^31, 2^32, 2^63, 2^64 - 1, negatives, a float.
nlohmann::json awkward_number(Random& random) {
  switch (below(random, 9)) {
    case 0:
      return 0;
    case 1:
      return below(random, 64);
    case 2:
      return (uint64_t{1} << 31) + below(random, 3) - 1;
    case 3:
      return (uint64_t{1} << 32) + below(random, 3) - 1;
    case 4:
      return (uint64_t{1} << 63) + below(random, 3) - 1;
    case 5:
      return ~uint64_t{0};
    case 6:
      return -static_cast<int64_t>(below(random, 5)) - 1;
    case 7:
      return 1.5;
    default:
      return below(random, 1 << 20);
  }
}

// Rewrites one field of the parsed header and re-serialises it with a correct length prefix.
Bytes rewrite_header(const Bytes& image, Random& random) {
  uint64_t length = header_length_of(image);
  if (image.size() < 8 || length > image.size() - 8) return image;
  nlohmann::json header = nlohmann::json::parse(image.substr(8, length), nullptr, /*allow_exceptions=*/false);
  if (!header.is_object() || header.empty()) return image;
  Bytes data = image.substr(8 + length);
  auto entry = header.begin();
  std::advance(entry, below(random, header.size()));
  std::string name = entry.key();
  if (!entry->is_object()) *entry = nlohmann::json::object();  // the edits below need an object
  const char* dtypes[] = {"BOOL", "U8",   "I8",  "I16", "U16",     "I32",     "U32", "I64",  "U64",
                          "F16",  "BF16", "F32", "F64", "F8_E4M3", "F8_E5M2", "F4",  "bf16", ""};
  switch (below(random, 10)) {
    case 0:
      (*entry)["dtype"] = dtypes[below(random, std::size(dtypes))];
      break;
    case 1:
      if ((*entry).contains("shape") && (*entry)["shape"].is_array() && !(*entry)["shape"].empty()) {
        (*entry)["shape"][below(random, (*entry)["shape"].size())] = awkward_number(random);
      } else {
        (*entry)["shape"] = {awkward_number(random)};
      }
      break;
    case 2:
      (*entry)["data_offsets"][below(random, 2)] = awkward_number(random);
      break;
    case 3:
      (*entry)["shape"].push_back(awkward_number(random));
      break;
    case 4:
      header.erase(name);
      break;
    case 5:
      header[name + "_copy"] = *entry;
      break;
    case 6:
      header["__metadata__"] = {{"key", awkward_number(random)}};
      break;
    case 7:
      (*entry) = awkward_number(random);
      break;
    case 8:
      (*entry).erase("data_offsets");
      break;
    default: {
      // A repeated name: serialise by hand, which nlohmann will not do.
      Bytes text = header.dump();
      Bytes repeated = "\"" + name + "\":" + entry->dump() + ",";
      text.insert(1, repeated);
      return with_header(text, data);
    }
  }
  Bytes text = header.dump();
  text.append(below(random, 8), ' ');
  return with_header(text, data);
}

Bytes mutate(Bytes image, Random& random) {
  const char interesting[] = {0,   '\xff', '"', '{', '}',  ',',    ':',   '[',
                              ']', '0',    '9', '-', '\\', '\x80', '\xc3'};
  switch (below(random, 9)) {
    case 0:  // bit flips
      for (size_t flips = 1 + below(random, 8); flips > 0 && !image.empty(); --flips) {
        image[below(random, image.size())] ^= static_cast<char>(1 << below(random, 8));
      }
      break;
    case 1:  // byte stores, mostly inside the header where they matter
      if (!image.empty()) {
        size_t limit = std::min<size_t>(image.size(), 8 + header_length_of(image) + 8);
        image[below(random, limit)] = interesting[below(random, sizeof(interesting))];
      }
      break;
    case 2:
      image.resize(below(random, image.size() + 1));
      break;  // truncation
    case 3:   // trailing bytes
      for (size_t extra = 1 + below(random, 64); extra > 0; --extra)
        image.push_back(static_cast<char>(random()));
      break;
    case 4: {  // splice: one chunk copied over another place
      if (image.size() < 2) break;
      size_t from = below(random, image.size()), to = below(random, image.size());
      size_t length = below(random, std::min(image.size() - from, image.size() - to) + 1);
      Bytes chunk = image.substr(from, length);
      image.replace(to, length, chunk);
      break;
    }
    case 5: {  // insertion or deletion inside the header text, length prefix fixed up or not
      if (image.size() <= 9) break;
      size_t header_end = std::min<size_t>(image.size(), 8 + header_length_of(image));
      size_t at = 8 + below(random, header_end > 8 ? header_end - 8 : 1);
      if (below(random, 2)) {
        image.insert(at, 1, interesting[below(random, sizeof(interesting))]);
      } else if (at < image.size()) {
        image.erase(at, 1);
      }
      if (below(random, 4)) {
        uint64_t length = header_length_of(image) + (below(random, 2) ? 1 : -1);
        for (int i = 0; i < 8; ++i) image[i] = static_cast<char>(length >> (8 * i));
      }
      break;
    }
    case 6: {  // length prefix rewritten
      if (image.size() < 8) break;
      uint64_t length = below(random, 2) ? header_length_of(image) + below(random, 17) - 8
                                         : awkward_number(random).get<uint64_t>();
      for (int i = 0; i < 8; ++i) image[i] = static_cast<char>(length >> (8 * i));
      break;
    }
    case 7: {  // bit flips in the data section only: the file stays valid, the values change
      uint64_t data_offset = 8 + header_length_of(image);
      if (image.size() >= 8 && data_offset < image.size()) {
        image[data_offset + below(random, image.size() - data_offset)] ^=
            static_cast<char>(1 << below(random, 8));
      }
      break;
    }
    default:
      image = rewrite_header(image, random);
      break;
  }
  return image;
}

TEST(SafetensorsMutation, EveryMutationParsesConsistentlyOrThrowsError) {
  const Bytes seed = seed_image();
  ASSERT_EQ(
      testing::safetensors_invariant_violation(*SafetensorsFile::parse("seed", seed.data(), seed.size()),
                                               reinterpret_cast<const uint8_t*>(seed.data()), seed.size()),
      "");
  Random random(20261129);
  int accepted = 0, rejected = 0;
  constexpr int kIterations = 20000;
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    Bytes image = seed;
    for (size_t rounds = 1 + below(random, 3); rounds > 0; --rounds) image = mutate(std::move(image), random);
    try {
      auto file = SafetensorsFile::parse("mutant", image.data(), image.size());
      std::string violation = testing::safetensors_invariant_violation(
          *file, reinterpret_cast<const uint8_t*>(image.data()), image.size());
      ASSERT_EQ(violation, "") << "iteration " << iteration;
      ++accepted;
    } catch (const Error& error) {
      ASSERT_NE(std::string(error.what()).find("mutant"), std::string::npos) << "iteration " << iteration;
      ++rejected;
    } catch (const std::exception& error) {
      FAIL() << "iteration " << iteration << ": an exception other than dsinfer::Error: " << error.what();
    }
  }
  // Both outcomes must be exercised, or the mutations test nothing.
  EXPECT_GT(accepted, kIterations / 20);
  EXPECT_GT(rejected, kIterations / 2);
  RecordProperty("accepted", accepted);
  RecordProperty("rejected", rejected);
}

}  // namespace
}  // namespace dsinfer
