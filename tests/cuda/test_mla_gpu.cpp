// MLA on the GPU against the CPU twins: the paged cache write, absorbed decode (tiled tensor-core kernel for
// DeepSeek's 512 + 64 latent with page 64, split-KV and combine; generic kernel for other sizes) and
// un-absorbed prefill over a cached prefix plus a new chunk (tiled for 128 + 64 / 128 head dims, generic
// otherwise), with shuffled pages and lengths that end mid-page; each in BF16 and in F32 (the F32-activation
// mode, which must agree with the float32 twin to float32 rounding).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "gpu_testing.h"
#include "kernels/sm90/mla_decode/mla_decode.h"
#include "ops/mla_cache_write.h"
#include "ops/mla_decode_attention.h"
#include "ops/mla_prefill_attention.h"

namespace dsinfer {
namespace {

using gpu_testing::RandomSource;
using gpu_testing::to_cpu_f32;
using gpu_testing::to_gpu;

struct MlaShape {
  int64_t heads, nope, rope, value, latent, page_size;
  int64_t width() const { return latent + rope; }
};

// Sequences written into a paged cache on both backends; the CPU twin then reads the device's cache so that
// both attention ops see identical entries.
class PagedScenario {
 public:
  // cache_dtype: the device cache's (BF16, or F32 for the F32-activation mode).
  PagedScenario(RandomSource& random, const MlaShape& shape, const std::vector<int>& lengths,
                DType cache_dtype = DType::kBF16)
      : shape_(shape) {
    int64_t max_length = *std::max_element(lengths.begin(), lengths.end());
    int64_t max_pages = (max_length + shape.page_size - 1) / shape.page_size;
    int64_t pages = 3;
    for (int length : lengths) pages += (length + shape.page_size - 1) / shape.page_size;
    cos_sin_ = Tensor::empty({max_length, shape.rope}, DType::kF32);
    for (int64_t p = 0; p < max_length; ++p)
      for (int64_t i = 0; i < shape.rope / 2; ++i) {
        double angle = p * std::pow(10000.0, -2.0 * i / shape.rope);
        cos_sin_.data_as<float>()[p * shape.rope + i] = static_cast<float>(std::cos(angle));
        cos_sin_.data_as<float>()[p * shape.rope + shape.rope / 2 + i] = static_cast<float>(std::sin(angle));
      }
    Tensor norm_weight = random.normal_bf16({shape.latent});
    std::vector<int32_t> free_pages(pages);
    std::iota(free_pages.begin(), free_pages.end(), 0);
    std::shuffle(free_pages.begin(), free_pages.end(), random.engine());
    page_table_ = Tensor::zeros({static_cast<int64_t>(lengths.size()), std::max<int64_t>(max_pages, 1)}, DType::kI32);
    host_cache_written_ = Tensor::empty({pages, shape.page_size, shape.width()}, DType::kF32);
    std::fill_n(host_cache_written_.data_as<float>(), host_cache_written_.numel(), std::nanf(""));
    device_cache_ = gpu_testing::poisoned({pages, shape.page_size, shape.width()}, cache_dtype);
    size_t next = 0;
    for (size_t s = 0; s < lengths.size(); ++s) {
      const int length = lengths[s];
      for (int p = 0; p < (length + shape.page_size - 1) / shape.page_size; ++p)
        page_table_.data_as<int32_t>()[s * page_table_.dim(1) + p] = free_pages[next++];
      Tensor kv_a = cache_dtype == DType::kBF16 ? gpu_testing::normal_f32_bf16_exact(random, {length, shape.width()}, 1.5f)
                                                : random.normal_tensor({length, shape.width()}, 1.5f);
      Tensor positions = Tensor::empty({length}, DType::kI32), slots = Tensor::empty({length}, DType::kI32);
      for (int t = 0; t < length; ++t) {
        positions.data_as<int32_t>()[t] = t;
        slots.data_as<int32_t>()[t] =
            page_table_.data_as<int32_t>()[s * page_table_.dim(1) + t / shape.page_size] * shape.page_size +
            t % shape.page_size;
      }
      ops::mla_cache_write(kv_a, norm_weight, 1e-6, positions, cos_sin_, slots, host_cache_written_);
      ops::mla_cache_write(to_gpu(kv_a, cache_dtype), to_gpu(norm_weight), 1e-6, to_gpu(positions), to_gpu(cos_sin_),
                           to_gpu(slots), device_cache_);
    }
    host_cache_ = to_cpu_f32(device_cache_);
  }

  // Attention batch over these sequences where sequence s has new_tokens[s] query rows.
  ops::AttentionBatch batch(const std::vector<int>& lengths, const std::vector<int>& new_tokens, bool on_gpu) const {
    ops::AttentionBatch batch;
    batch.num_sequences = static_cast<int>(lengths.size());
    Tensor query_start = Tensor::empty({batch.num_sequences + 1}, DType::kI32);
    Tensor kv_length = Tensor::empty({batch.num_sequences}, DType::kI32);
    query_start.data_as<int32_t>()[0] = 0;
    for (int s = 0; s < batch.num_sequences; ++s) {
      query_start.data_as<int32_t>()[s + 1] = query_start.data_as<int32_t>()[s] + new_tokens[s];
      kv_length.data_as<int32_t>()[s] = lengths[s];
      batch.max_query_length = std::max(batch.max_query_length, new_tokens[s]);
      batch.max_kv_length = std::max(batch.max_kv_length, lengths[s]);
    }
    batch.query_start = on_gpu ? to_gpu(query_start) : query_start;
    batch.kv_length = on_gpu ? to_gpu(kv_length) : kv_length;
    batch.page_table = on_gpu ? to_gpu(page_table_) : page_table_;
    return batch;
  }

  const Tensor& host_cache() const { return host_cache_; }                  // the device's entries, as F32
  const Tensor& host_cache_written() const { return host_cache_written_; }  // what the CPU twin wrote
  const Tensor& device_cache() const { return device_cache_; }

 private:
  MlaShape shape_;
  Tensor cos_sin_, page_table_, host_cache_, host_cache_written_, device_cache_;
};

TEST(MlaCacheWriteGpu, StoresTheNormalizedLatentAndRotatedKeyInItsSlot) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  const MlaShape shape{16, 128, 64, 128, 512, 64};
  PagedScenario scenario(random, shape, {70, 3, 130});
  const float* written = scenario.host_cache_written().data_as<float>();
  const float* device = scenario.host_cache().data_as<float>();
  int64_t entries = 0;
  for (int64_t slot = 0; slot * shape.width() < scenario.host_cache().numel(); ++slot) {
    const float* expected = written + slot * shape.width();
    const float* actual = device + slot * shape.width();
    if (std::isnan(expected[0])) {
      EXPECT_TRUE(std::isnan(actual[0])) << "slot " << slot << " was written but should not have been";
      continue;
    }
    double difference = 0.0, norm = 0.0;
    for (int64_t i = 0; i < shape.width(); ++i) {
      difference += (actual[i] - expected[i]) * (actual[i] - expected[i]);
      norm += expected[i] * expected[i];
    }
    EXPECT_LT(std::sqrt(difference / norm), 5e-3) << "slot " << slot;
    ++entries;
  }
  EXPECT_EQ(entries, 70 + 3 + 130);
}

// Decode (1-8 tokens) and prefill (200) row counts into random distinct slots, with and without the FP8 latent
// rounding, in BF16 and F32: DeepSeek's 512 + 64 and 128 + 32 take the vector kernel (200 + 64 with a partial
// last FP8 group), 100 + 30 the scalar one. Unwritten slots must stay poisoned.
// A rope table [max_positions, rope] F32 (cosines, then sines) with plain 10000^(-2i/rope) frequencies.
Tensor plain_rope_table(int64_t max_positions, int64_t rope) {
  Tensor cos_sin = Tensor::empty({max_positions, rope}, DType::kF32);
  for (int64_t p = 0; p < max_positions; ++p)
    for (int64_t i = 0; i < rope / 2; ++i) {
      double angle = p * std::pow(10000.0, -2.0 * i / rope);
      cos_sin.data_as<float>()[p * rope + i] = static_cast<float>(std::cos(angle));
      cos_sin.data_as<float>()[p * rope + rope / 2 + i] = static_cast<float>(std::sin(angle));
    }
  return cos_sin;
}

TEST(MlaCacheWriteGpu, MatchesCpuTwinOnVectorAndScalarPathsWithAndWithoutFp8Latent) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  const int64_t pages = 5, page_size = 64, max_positions = 4096;
  for (auto [latent, rope] : {std::pair{512, 64}, std::pair{128, 32}, std::pair{200, 64}, std::pair{100, 30}}) {
    const int64_t width = latent + rope;
    Tensor cos_sin = plain_rope_table(max_positions, rope);
    Tensor norm_weight = random.normal_bf16({latent});
    for (int64_t tokens : {1, 3, 8, 200})
      for (DType cache_dtype : {DType::kBF16, DType::kF32})
        for (bool quantize_latent : {false, true}) {
          SCOPED_TRACE(testing::Message() << latent << " + " << rope << ", " << tokens << " tokens, "
                                          << dtype_name(cache_dtype) << (quantize_latent ? ", FP8 latent" : ""));
          Tensor kv_a = cache_dtype == DType::kBF16 ? gpu_testing::normal_f32_bf16_exact(random, {tokens, width}, 1.5f)
                                                    : random.normal_tensor({tokens, width}, 1.5f);
          std::vector<int32_t> all_slots(pages * page_size);
          std::iota(all_slots.begin(), all_slots.end(), 0);
          std::shuffle(all_slots.begin(), all_slots.end(), random.engine());
          Tensor positions = Tensor::empty({tokens}, DType::kI32), slots = Tensor::empty({tokens}, DType::kI32);
          for (int64_t t = 0; t < tokens; ++t) {
            positions.data_as<int32_t>()[t] = random.integer(0, max_positions - 1);
            slots.data_as<int32_t>()[t] = all_slots[t];
          }
          Tensor expected = Tensor::empty({pages, page_size, width}, DType::kF32);
          std::fill_n(expected.data_as<float>(), expected.numel(), std::nanf(""));
          ops::mla_cache_write(kv_a, norm_weight, 1e-6, positions, cos_sin, slots, expected, quantize_latent);
          Tensor device_cache = gpu_testing::poisoned({pages, page_size, width}, cache_dtype);
          ops::mla_cache_write(to_gpu(kv_a, cache_dtype), to_gpu(norm_weight), 1e-6, to_gpu(positions),
                               to_gpu(cos_sin), to_gpu(slots), device_cache, quantize_latent);
          Tensor actual = to_cpu_f32(device_cache);
          // Per-slot errors over written slots only (an unwritten slot is NaN on both sides).
          std::vector<float> written_expected, written_actual;
          for (int64_t slot = 0; slot < pages * page_size; ++slot) {
            const float* expected_entry = expected.data_as<float>() + slot * width;
            const float* actual_entry = actual.data_as<float>() + slot * width;
            if (std::isnan(expected_entry[0])) {
              EXPECT_TRUE(std::isnan(actual_entry[0])) << "slot " << slot << " was written but should not have been";
              continue;
            }
            written_expected.insert(written_expected.end(), expected_entry, expected_entry + width);
            written_actual.insert(written_actual.end(), actual_entry, actual_entry + width);
          }
          ASSERT_EQ(static_cast<int64_t>(written_expected.size()), tokens * width);
          Tensor expected_rows = Tensor::view(written_expected.data(), {tokens, width}, DType::kF32);
          Tensor actual_rows = Tensor::view(written_actual.data(), {tokens, width}, DType::kF32);
          // BF16: the entry's own rounding; F32: float32 rounding. With the FP8 latent, float32 statistics (the
          // twin's are double) may move a rare value to the neighbouring e4m3 code: the median row stays tight.
          const double tolerance = cache_dtype == DType::kBF16 ? 5e-3 : 1e-5;
          EXPECT_LT(gpu_testing::median_row_error(actual_rows, expected_rows, width), tolerance);
          EXPECT_LT(gpu_testing::worst_row_error(actual_rows, expected_rows, width), quantize_latent ? 2e-2 : tolerance);
        }
  }
}

// The query's rope fused into the cache write: the query [T, heads, 192] rotated in place on its last 64 values
// exactly as ops::rope does on the CPU, the entry as without it; 16 and 128 heads, the vector path, and a
// 100 + 30 latent (scalar path: the rope as its own launch).
TEST(MlaCacheWriteGpu, RotatesTheQueryAsRopeDoes) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  const int64_t pages = 4, page_size = 64, max_positions = 2048;
  for (auto [latent, rope, heads] : {std::tuple{512, 64, 16}, std::tuple{512, 64, 128}, std::tuple{100, 30, 4}}) {
    SCOPED_TRACE(testing::Message() << latent << " + " << rope << ", " << heads << " heads");
    const int64_t width = latent + rope, head_dim = 128 + rope;
    Tensor cos_sin = plain_rope_table(max_positions, rope);
    Tensor norm_weight = random.normal_bf16({latent});
    for (int64_t tokens : {1, 5}) {
      Tensor kv_a = gpu_testing::normal_f32_bf16_exact(random, {tokens, width}, 1.5f);
      Tensor query = gpu_testing::normal_f32_bf16_exact(random, {tokens, heads, head_dim}, 1.0f);
      Tensor positions = Tensor::empty({tokens}, DType::kI32), slots = Tensor::empty({tokens}, DType::kI32);
      for (int64_t t = 0; t < tokens; ++t) {
        positions.data_as<int32_t>()[t] = random.integer(0, max_positions - 1);
        slots.data_as<int32_t>()[t] = static_cast<int32_t>(t * 7);
      }
      Tensor expected_query = Tensor::empty(query.shape(), DType::kF32);
      std::copy_n(query.data_as<float>(), query.numel(), expected_query.data_as<float>());
      Tensor expected_cache = Tensor::empty({pages, page_size, width}, DType::kF32);
      std::fill_n(expected_cache.data_as<float>(), expected_cache.numel(), 0.0f);
      ops::mla_cache_write(kv_a, norm_weight, 1e-6, positions, cos_sin, slots, expected_cache, false, &expected_query);
      Tensor device_query = to_gpu(query, DType::kBF16);
      Tensor device_cache = to_gpu(expected_cache, DType::kBF16);
      ops::mla_cache_write(to_gpu(kv_a, DType::kBF16), to_gpu(norm_weight), 1e-6, to_gpu(positions), to_gpu(cos_sin),
                           to_gpu(slots), device_cache, false, &device_query);
      // The rotated query: BF16 storage of the same float products. Untouched nope values stay bit-equal.
      EXPECT_LT(gpu_testing::worst_row_error(to_cpu_f32(device_query), expected_query, head_dim), 5e-3) << tokens;
      Tensor actual_query = to_cpu_f32(device_query);
      for (int64_t row = 0; row < tokens * heads; ++row)
        for (int64_t d = 0; d < head_dim - rope; ++d)
          ASSERT_EQ(actual_query.data_as<float>()[row * head_dim + d], query.data_as<float>()[row * head_dim + d])
              << "row " << row << ", value " << d << " is not in the rope part";
      EXPECT_LT(gpu_testing::worst_row_error(to_cpu_f32(device_cache), expected_cache, width), 5e-3) << tokens;
    }
  }
}

class MlaDecodeGpuTest : public ::testing::TestWithParam<std::tuple<MlaShape, std::vector<int>>> {};

TEST_P(MlaDecodeGpuTest, MatchesCpuTwin) {
  DSINFER_REQUIRE_GPU();
  const auto& [shape, lengths] = GetParam();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  PagedScenario scenario(random, shape, lengths);
  const int64_t batch_size = static_cast<int64_t>(lengths.size());
  Tensor q = gpu_testing::normal_f32_bf16_exact(random, {batch_size, shape.heads, shape.nope + shape.rope});
  Tensor w_uk = gpu_testing::normal_f32_bf16_exact(random, {shape.heads, shape.latent, shape.nope}, 0.08f);
  Tensor w_uv = gpu_testing::normal_f32_bf16_exact(random, {shape.heads, shape.value, shape.latent}, 0.08f);
  const double scale = 1.0 / std::sqrt(static_cast<double>(shape.nope + shape.rope));
  std::vector<int> ones(lengths.size(), 1);
  Tensor expected = Tensor::empty({batch_size, shape.heads, shape.value}, DType::kF32);
  ops::mla_decode_attention(q, scenario.host_cache(), w_uk, w_uv, scenario.batch(lengths, ones, false), scale, expected);
  Tensor output = gpu_testing::poisoned({batch_size, shape.heads, shape.value}, DType::kBF16);
  ops::mla_decode_attention(to_gpu(q, DType::kBF16), scenario.device_cache(), to_gpu(w_uk, DType::kBF16),
                            to_gpu(w_uv, DType::kBF16), scenario.batch(lengths, ones, true), scale, output);
  EXPECT_LT(gpu_testing::worst_row_error(to_cpu_f32(output), expected, shape.value), 2e-2);
}

// F32 throughout: the generic kernel and the F32 per-head products.
TEST_P(MlaDecodeGpuTest, MatchesCpuTwinToFloat32RoundingWithF32Activations) {
  DSINFER_REQUIRE_GPU();
  const auto& [shape, lengths] = GetParam();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  PagedScenario scenario(random, shape, lengths, DType::kF32);
  const int64_t batch_size = static_cast<int64_t>(lengths.size());
  Tensor q = random.normal_tensor({batch_size, shape.heads, shape.nope + shape.rope});
  Tensor w_uk = random.normal_tensor({shape.heads, shape.latent, shape.nope}, 0.08f);
  Tensor w_uv = random.normal_tensor({shape.heads, shape.value, shape.latent}, 0.08f);
  const double scale = 1.0 / std::sqrt(static_cast<double>(shape.nope + shape.rope));
  std::vector<int> ones(lengths.size(), 1);
  Tensor expected = Tensor::empty({batch_size, shape.heads, shape.value}, DType::kF32);
  ops::mla_decode_attention(q, scenario.host_cache(), w_uk, w_uv, scenario.batch(lengths, ones, false), scale, expected);
  Tensor output = gpu_testing::poisoned({batch_size, shape.heads, shape.value}, DType::kF32);
  ops::mla_decode_attention(to_gpu(q), scenario.device_cache(), to_gpu(w_uk), to_gpu(w_uv),
                            scenario.batch(lengths, ones, true), scale, output);
  EXPECT_LT(gpu_testing::worst_row_error(to_cpu_f32(output), expected, shape.value), 1e-5);
}

const MlaShape kDeepSeek16{16, 128, 64, 128, 512, 64};
const MlaShape kDeepSeek128{128, 128, 64, 128, 512, 64};
const MlaShape kDeepSeek20{20, 128, 64, 128, 512, 64};      // a partial head block of 32
const MlaShape kDeepSeekPage16{16, 128, 64, 128, 512, 16};  // page size other than 64: generic kernel
const MlaShape kTiny{4, 32, 32, 32, 64, 16};                // the test models' sizes
const MlaShape kTinyFp8{4, 64, 32, 64, 128, 64};

INSTANTIATE_TEST_SUITE_P(
    Shapes, MlaDecodeGpuTest,
    ::testing::Values(std::tuple{kDeepSeek16, std::vector<int>{1, 63, 64, 65, 1000, 4097}},
                      std::tuple{kDeepSeek16, std::vector<int>{2500}},  // batch 1: many splits of one sequence
                      // 9 sequences: the per-head products on cuBLASLt (the skinny kernel takes up to 8)
                      std::tuple{kDeepSeek16, std::vector<int>{1, 5, 64, 65, 100, 200, 300, 400, 513}},
                      // With 64 splits (an H200's 132 SMs at batch 1 or 2): 7 active splits; then one sequence
                      // written directly beside one merged from 64 splits.
                      std::tuple{kDeepSeek16, std::vector<int>{420}},
                      std::tuple{kDeepSeek16, std::vector<int>{30, 4096}},
                      // Batch 1 at the benchmark's 1K context (16 active splits), one page (no split), and two
                      // sequences both merged.
                      std::tuple{kDeepSeek16, std::vector<int>{1024}},
                      std::tuple{kDeepSeek16, std::vector<int>{40}},
                      std::tuple{kDeepSeek16, std::vector<int>{700, 2111}},
                      std::tuple{kDeepSeek128, std::vector<int>{1, 300, 2049}},
                      std::tuple{kDeepSeek20, std::vector<int>{77, 640}},
                      std::tuple{kDeepSeekPage16, std::vector<int>{5, 300}},
                      std::tuple{kTiny, std::vector<int>{1, 17, 211}},
                      std::tuple{kTinyFp8, std::vector<int>{40, 130}}));

// The decode kernels and the split-KV combine called directly with a chosen num_splits (the op picks it from
// the device's SM count), against double-precision latent attention over the same BF16-exact cache. The
// partial workspace starts as NaN, so a combine that read an inactive split's slot would show.
struct SplitCase {
  int heads, latent, rope, page_size;
  bool f32;    // F32 everywhere (generic kernel), else BF16
  bool tiled;  // run_mla_decode is expected to take the tiled tensor-core kernel
  int num_splits;
  std::vector<int> lengths;        // tokens in the cache per sequence
  std::vector<int> active_splits;  // what mla_split_range gives each sequence: the case's point
};

// softmax(scale * (q_latent . cache[t, :latent] + q_rope . cache[t, latent:])) . cache[:, :latent] ->
// [latent]
std::vector<double> latent_attention(const float* q_latent, const float* q_rope, const Tensor& cache,
                                     const int32_t* pages, int length, const SplitCase& test_case,
                                     double scale) {
  const int width = test_case.latent + test_case.rope;
  std::vector<const float*> rows(length);
  std::vector<double> scores(length);
  double max_score = -INFINITY;
  for (int t = 0; t < length; ++t) {
    rows[t] = cache.data_as<const float>() +
              (static_cast<int64_t>(pages[t / test_case.page_size]) * test_case.page_size +
               t % test_case.page_size) *
                  width;
    double dot = 0.0;
    for (int d = 0; d < test_case.latent; ++d) dot += static_cast<double>(q_latent[d]) * rows[t][d];
    for (int r = 0; r < test_case.rope; ++r)
      dot += static_cast<double>(q_rope[r]) * rows[t][test_case.latent + r];
    scores[t] = scale * dot;
    max_score = std::max(max_score, scores[t]);
  }
  std::vector<double> out(test_case.latent, 0.0);
  double sum = 0.0;
  for (int t = 0; t < length; ++t) {
    const double weight = std::exp(scores[t] - max_score);
    sum += weight;
    for (int d = 0; d < test_case.latent; ++d) out[d] += weight * rows[t][d];
  }
  for (double& value : out) value /= sum;
  return out;
}

class MlaDecodeSplitGpuTest : public ::testing::TestWithParam<SplitCase> {};

TEST_P(MlaDecodeSplitGpuTest, CombinedSplitsMatchOneSoftmaxOverTheSequence) {
  DSINFER_REQUIRE_GPU();
  const SplitCase& test_case = GetParam();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  const int batch = static_cast<int>(test_case.lengths.size());
  const int width = test_case.latent + test_case.rope;
  for (int s = 0; s < batch; ++s)
    ASSERT_EQ(
        dsinfer::cuda::mla_split_range(test_case.lengths[s], test_case.page_size, test_case.num_splits, 0)
            .active_splits,
        test_case.active_splits[s])
        << "sequence " << s;

  // Shuffled pages, two spare ones, in a cache of BF16-exact values.
  std::vector<int> page_counts;
  for (int length : test_case.lengths)
    page_counts.push_back((length + test_case.page_size - 1) / test_case.page_size);
  const int max_pages = *std::max_element(page_counts.begin(), page_counts.end());
  std::vector<int32_t> free_pages(std::accumulate(page_counts.begin(), page_counts.end(), 2));
  std::iota(free_pages.begin(), free_pages.end(), 0);
  std::shuffle(free_pages.begin(), free_pages.end(), random.engine());
  Tensor page_table = Tensor::zeros({batch, max_pages}, DType::kI32),
         seq_lens = Tensor::empty({batch}, DType::kI32);
  size_t next = 0;
  for (int s = 0; s < batch; ++s) {
    seq_lens.data_as<int32_t>()[s] = test_case.lengths[s];
    for (int p = 0; p < page_counts[s]; ++p)
      page_table.data_as<int32_t>()[s * max_pages + p] = free_pages[next++];
  }
  const int64_t num_pages = static_cast<int64_t>(free_pages.size());
  Tensor cache = gpu_testing::normal_f32_bf16_exact(random, {num_pages, test_case.page_size, width});
  // Scores of about 2 standard deviations, so the splits' log-sum-exps differ and their weights matter.
  Tensor q_latent =
      gpu_testing::normal_f32_bf16_exact(random, {batch, test_case.heads, test_case.latent}, 2.0f);
  Tensor q_rope = gpu_testing::normal_f32_bf16_exact(random, {batch, test_case.heads, test_case.rope}, 2.0f);
  const double scale = 1.0 / std::sqrt(static_cast<double>(width));

  const DType dtype = test_case.f32 ? DType::kF32 : DType::kBF16;
  Tensor device_cache = to_gpu(cache, dtype), device_q_latent = to_gpu(q_latent, dtype),
         device_q_rope = to_gpu(q_rope, dtype), device_page_table = to_gpu(page_table),
         device_seq_lens = to_gpu(seq_lens);
  const int64_t workspace_floats = dsinfer::cuda::mla_decode_workspace_floats(
      batch, test_case.heads, test_case.latent, test_case.num_splits);
  Tensor workspace = gpu_testing::poisoned({workspace_floats}, DType::kF32);
  Tensor output = gpu_testing::poisoned({batch, test_case.heads, test_case.latent}, dtype);

  dsinfer::cuda::MlaDecodeParams params{};
  params.q_latent = device_q_latent.data();
  params.q_rope = device_q_rope.data();
  params.q_latent_batch_stride = int64_t{test_case.heads} * test_case.latent;
  params.q_latent_head_stride = test_case.latent;
  params.q_rope_batch_stride = int64_t{test_case.heads} * test_case.rope;
  params.q_rope_head_stride = test_case.rope;
  params.kv_cache = device_cache.data();
  params.page_table = device_page_table.data_as<const int32_t>();
  params.page_table_stride = max_pages;
  params.seq_lens = device_seq_lens.data_as<const int32_t>();
  params.out = output.data();
  params.f32 = test_case.f32;
  params.partial_out = workspace.data_as<float>();
  params.partial_lse = params.partial_out + static_cast<int64_t>(batch) * test_case.num_splits *
                                                test_case.heads * test_case.latent;
  params.batch = batch;
  params.num_heads = test_case.heads;
  params.latent_dim = test_case.latent;
  params.rope_dim = test_case.rope;
  params.page_size = test_case.page_size;
  params.num_splits = test_case.num_splits;
  params.softmax_scale = static_cast<float>(scale);
  ASSERT_EQ(dsinfer::cuda::mla_decode_uses_tiled_kernel(params), test_case.tiled);
  dsinfer::cuda::run_mla_decode(params, dsinfer::cuda::current_stream());

  Tensor expected = Tensor::empty({batch, test_case.heads, test_case.latent}, DType::kF32);
  for (int s = 0; s < batch; ++s)
    for (int h = 0; h < test_case.heads; ++h) {
      const int64_t row = static_cast<int64_t>(s) * test_case.heads + h;
      std::vector<double> reference = latent_attention(
          q_latent.data_as<const float>() + row * test_case.latent,
          q_rope.data_as<const float>() + row * test_case.rope, cache,
          page_table.data_as<const int32_t>() + s * max_pages, test_case.lengths[s], test_case, scale);
      std::copy(reference.begin(), reference.end(), expected.data_as<float>() + row * test_case.latent);
    }
  // Per sequence, so a failure names the split count that broke.
  Tensor actual = to_cpu_f32(output);
  for (int s = 0; s < batch; ++s) {
    Tensor actual_rows = actual.slice_rows(s, s + 1), expected_rows = expected.slice_rows(s, s + 1);
    EXPECT_LT(gpu_testing::worst_row_error(actual_rows, expected_rows, test_case.latent),
              test_case.f32 ? 1e-5 : 2e-2)
        << "sequence " << s << " (" << test_case.lengths[s] << " tokens, " << test_case.active_splits[s]
        << " active splits of " << test_case.num_splits << ")";
  }
}

// Tiled: DeepSeek's 512 + 64 latent with page 64 (16 or 20 heads). Generic: 200 + 24 with page 16, so the
// combine's second 128-column CTA is partly past the latent width. num_splits 7, 16, 32, 64 take each of the
// combine's split bounds (8, 16, 32, 64).
INSTANTIATE_TEST_SUITE_P(
    SplitCounts, MlaDecodeSplitGpuTest,
    ::testing::Values(SplitCase{16, 512, 64, 64, false, true, 64, {100}, {2}},
                      SplitCase{16, 512, 64, 64, false, true, 64, {420}, {7}},
                      SplitCase{16, 512, 64, 64, false, true, 64, {4096}, {64}},
                      SplitCase{16, 512, 64, 64, false, true, 64, {30, 4096, 1000}, {1, 64, 16}},
                      SplitCase{16, 512, 64, 64, false, true, 16, {1000}, {16}},
                      SplitCase{16, 512, 64, 64, false, true, 32, {2048, 64}, {32, 1}},
                      SplitCase{16, 512, 64, 64, false, true, 7, {420, 8000}, {7, 7}},
                      SplitCase{20, 512, 64, 64, false, true, 64, {5000}, {40}},
                      SplitCase{4, 200, 24, 16, true, false, 64, {30, 1024}, {2, 64}},
                      SplitCase{4, 200, 24, 16, true, false, 7, {100, 16}, {7, 1}},
                      SplitCase{4, 200, 24, 16, false, false, 64, {1024, 5}, {64, 1}}),
    [](const testing::TestParamInfo<SplitCase>& info) {
      const SplitCase& test_case = info.param;
      return std::string(test_case.tiled ? "tiled"
                         : test_case.f32 ? "generic_f32"
                                         : "generic_bf16") +
             "_h" + std::to_string(test_case.heads) + "_splits" + std::to_string(test_case.num_splits) + "_" +
             std::to_string(info.index);
    });

// (shape, kv lengths, new tokens per sequence, FP8 kv_b_proj)
class MlaPrefillGpuTest
    : public ::testing::TestWithParam<std::tuple<MlaShape, std::vector<int>, std::vector<int>, bool>> {};

TEST_P(MlaPrefillGpuTest, MatchesCpuTwinOverCachedPrefixAndNewChunk) {
  DSINFER_REQUIRE_GPU();
  const auto& [shape, lengths, new_tokens, fp8] = GetParam();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  PagedScenario scenario(random, shape, lengths);
  const int64_t rows = std::accumulate(new_tokens.begin(), new_tokens.end(), int64_t{0});
  Tensor q = gpu_testing::normal_f32_bf16_exact(random, {rows, shape.heads, shape.nope + shape.rope});
  Tensor kv_b_values = random.normal_tensor({shape.heads * (shape.nope + shape.value), shape.latent}, 0.06f);
  const ops::LinearWeight kv_b = gpu_testing::host_weight(kv_b_values, fp8);
  const double scale = 1.0 / std::sqrt(static_cast<double>(shape.nope + shape.rope));
  Tensor expected = Tensor::empty({rows, shape.heads, shape.value}, DType::kF32);
  ops::mla_prefill_attention(q, scenario.host_cache(), kv_b, scenario.batch(lengths, new_tokens, false), scale, expected,
                             fp8);
  ops::LinearWeight device_kv_b = kv_b;
  device_kv_b.weight = to_gpu(kv_b.weight);
  if (fp8) device_kv_b.scale_inv = to_gpu(kv_b.scale_inv);
  Tensor output = gpu_testing::poisoned({rows, shape.heads, shape.value}, DType::kBF16);
  ops::mla_prefill_attention(to_gpu(q, DType::kBF16), scenario.device_cache(), device_kv_b,
                             scenario.batch(lengths, new_tokens, true), scale, output, fp8);
  EXPECT_LT(gpu_testing::worst_row_error(to_cpu_f32(output), expected, shape.value), 2e-2);
}

TEST_P(MlaPrefillGpuTest, MatchesCpuTwinToFloat32RoundingWithF32Activations) {
  DSINFER_REQUIRE_GPU();
  const auto& [shape, lengths, new_tokens, fp8] = GetParam();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  PagedScenario scenario(random, shape, lengths, DType::kF32);
  const int64_t rows = std::accumulate(new_tokens.begin(), new_tokens.end(), int64_t{0});
  Tensor q = random.normal_tensor({rows, shape.heads, shape.nope + shape.rope});
  Tensor kv_b_values = random.normal_tensor({shape.heads * (shape.nope + shape.value), shape.latent}, 0.06f);
  const ops::LinearWeight kv_b = gpu_testing::host_weight(kv_b_values, fp8);
  const double scale = 1.0 / std::sqrt(static_cast<double>(shape.nope + shape.rope));
  Tensor expected = Tensor::empty({rows, shape.heads, shape.value}, DType::kF32);
  ops::mla_prefill_attention(q, scenario.host_cache(), kv_b, scenario.batch(lengths, new_tokens, false), scale, expected,
                             fp8);
  ops::LinearWeight device_kv_b = kv_b;
  device_kv_b.weight = to_gpu(kv_b.weight);
  if (fp8) device_kv_b.scale_inv = to_gpu(kv_b.scale_inv);
  Tensor output = gpu_testing::poisoned({rows, shape.heads, shape.value}, DType::kF32);
  ops::mla_prefill_attention(to_gpu(q), scenario.device_cache(), device_kv_b, scenario.batch(lengths, new_tokens, true),
                             scale, output, fp8);
  EXPECT_LT(gpu_testing::worst_row_error(to_cpu_f32(output), expected, shape.value), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, MlaPrefillGpuTest,
    ::testing::Values(std::tuple{kDeepSeek16, std::vector<int>{100}, std::vector<int>{100}, false},
                      std::tuple{kDeepSeek16, std::vector<int>{134, 70, 6}, std::vector<int>{64, 70, 1}, false},
                      std::tuple{kDeepSeek16, std::vector<int>{300, 129}, std::vector<int>{200, 129}, true},
                      std::tuple{kTiny, std::vector<int>{37, 211}, std::vector<int>{37, 11}, false},
                      std::tuple{kTinyFp8, std::vector<int>{50, 9}, std::vector<int>{20, 9}, true}));

}  // namespace
}  // namespace dsinfer
