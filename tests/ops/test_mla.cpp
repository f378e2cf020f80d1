// MLA cache write, prefill attention (un-absorbed, over cached prefix + new chunk) and decode attention
// (absorbed) on a small paged cache with shuffled pages, against a float64 reference that works on plain,
// un-paged arrays.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "ops/mla_cache_write.h"
#include "ops/mla_decode_attention.h"
#include "ops/mla_prefill_attention.h"
#include "random_tensors.h"

namespace dsinfer {
namespace {

using op_testing::RandomSource;

constexpr int64_t kHeads = 3, kNope = 16, kRope = 8, kValue = 12, kLatent = 40, kWidth = kLatent + kRope;
constexpr int64_t kPageSize = 4, kPages = 24, kMaxPositions = 64;
constexpr double kScale = 0.23;

struct Sequence {
  int cached, new_tokens;
};

class MlaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cos_sin_ = Tensor::empty({kMaxPositions, kRope}, DType::kF32);
    angles_.resize(kMaxPositions * kRope / 2);
    for (int64_t p = 0; p < kMaxPositions; ++p)
      for (int64_t i = 0; i < kRope / 2; ++i) {
        angles_[p * kRope / 2 + i] = p * std::pow(100.0, -2.0 * i / kRope);
        cos_sin_.data_as<float>()[p * kRope + i] = static_cast<float>(std::cos(angles_[p * kRope / 2 + i]));
        cos_sin_.data_as<float>()[p * kRope + kRope / 2 + i] = static_cast<float>(std::sin(angles_[p * kRope / 2 + i]));
      }
    norm_weight_ = random_.normal_bf16({kLatent});
    kv_b_.weight = random_.normal_bf16({kHeads * (kNope + kValue), kLatent}, 0.2f);
    kv_cache_ = Tensor::empty({kPages, kPageSize, kWidth}, DType::kF32);
    std::fill_n(kv_cache_.data_as<float>(), kv_cache_.numel(), std::nanf(""));  // unwritten slots must not be read
  }

  // Writes every token of every sequence into the cache through the op (pages shuffled) and keeps the
  // float64 reference entries. Returns the page table [sequences, max_pages].
  Tensor write_cache(const std::vector<Sequence>& sequences) {
    std::vector<int> free_pages(kPages);
    std::iota(free_pages.begin(), free_pages.end(), 0);
    std::shuffle(free_pages.begin(), free_pages.end(), random_.engine());
    const int64_t max_pages = kMaxPositions / kPageSize;
    Tensor page_table = Tensor::zeros({static_cast<int64_t>(sequences.size()), max_pages}, DType::kI32);
    reference_entries_.assign(sequences.size(), {});
    size_t next_page = 0;
    for (size_t s = 0; s < sequences.size(); ++s) {
      const int length = sequences[s].cached + sequences[s].new_tokens;
      for (int p = 0; p < (length + kPageSize - 1) / kPageSize; ++p)
        page_table.data_as<int32_t>()[s * max_pages + p] = free_pages.at(next_page++);
      Tensor kv_a = random_.normal_tensor({length, kWidth}, 2.0f);
      Tensor positions = Tensor::empty({length}, DType::kI32), slots = Tensor::empty({length}, DType::kI32);
      for (int t = 0; t < length; ++t) {
        positions.data_as<int32_t>()[t] = t;
        slots.data_as<int32_t>()[t] = page_table.data_as<int32_t>()[s * max_pages + t / kPageSize] * kPageSize + t % kPageSize;
      }
      ops::mla_cache_write(kv_a, norm_weight_, 1e-6, positions, cos_sin_, slots, kv_cache_);
      for (int t = 0; t < length; ++t) {
        const float* row = kv_a.data_as<float>() + t * kWidth;
        std::vector<double> entry(kWidth);
        double sum = 0.0;
        for (int64_t i = 0; i < kLatent; ++i) sum += static_cast<double>(row[i]) * row[i];
        for (int64_t i = 0; i < kLatent; ++i)
          entry[i] = op_testing::element(norm_weight_, i) * row[i] / std::sqrt(sum / kLatent + 1e-6);
        for (int64_t i = 0; i < kRope / 2; ++i) {
          double a = angles_[t * kRope / 2 + i], x0 = row[kLatent + 2 * i], x1 = row[kLatent + 2 * i + 1];
          entry[kLatent + 2 * i] = x0 * std::cos(a) - x1 * std::sin(a);
          entry[kLatent + 2 * i + 1] = x0 * std::sin(a) + x1 * std::cos(a);
        }
        reference_entries_[s].push_back(entry);
      }
    }
    return page_table;
  }

  ops::AttentionBatch make_batch(const std::vector<Sequence>& sequences, const Tensor& page_table) {
    ops::AttentionBatch batch;
    batch.num_sequences = static_cast<int>(sequences.size());
    batch.query_start = Tensor::empty({batch.num_sequences + 1}, DType::kI32);
    batch.kv_length = Tensor::empty({batch.num_sequences}, DType::kI32);
    batch.page_table = page_table;
    batch.query_start.data_as<int32_t>()[0] = 0;
    for (int s = 0; s < batch.num_sequences; ++s) {
      batch.query_start.data_as<int32_t>()[s + 1] = batch.query_start.data_as<int32_t>()[s] + sequences[s].new_tokens;
      batch.kv_length.data_as<int32_t>()[s] = sequences[s].cached + sequences[s].new_tokens;
      batch.max_query_length = std::max(batch.max_query_length, sequences[s].new_tokens);
      batch.max_kv_length = std::max(batch.max_kv_length, sequences[s].cached + sequences[s].new_tokens);
    }
    return batch;
  }

  // Causal attention of the new tokens, un-absorbed, in float64 from the reference cache entries.
  std::vector<double> reference_attention(const std::vector<Sequence>& sequences, const Tensor& q) {
    std::vector<double> out;
    int64_t row = 0;
    for (size_t s = 0; s < sequences.size(); ++s) {
      const int length = sequences[s].cached + sequences[s].new_tokens;
      for (int i = 0; i < sequences[s].new_tokens; ++i, ++row) {
        const int visible = sequences[s].cached + i + 1;
        for (int64_t h = 0; h < kHeads; ++h) {
          const float* query = q.data_as<float>() + (row * kHeads + h) * (kNope + kRope);
          std::vector<double> scores(visible), values(visible * kValue);
          for (int j = 0; j < visible; ++j) {
            const auto& entry = reference_entries_[s][j];
            double score = 0.0;
            for (int64_t d = 0; d < kNope + kValue; ++d) {
              double projected = 0.0;  // kv_b_proj row (head h, d) . latent_j
              for (int64_t c = 0; c < kLatent; ++c)
                projected += op_testing::weight_value(kv_b_, h * (kNope + kValue) + d, c) * entry[c];
              if (d < kNope) score += query[d] * projected;
              else values[j * kValue + d - kNope] = projected;
            }
            for (int64_t d = 0; d < kRope; ++d) score += query[kNope + d] * entry[kLatent + d];
            scores[j] = score * kScale;
          }
          double largest = *std::max_element(scores.begin(), scores.end()), total = 0.0;
          for (double& score : scores) total += score = std::exp(score - largest);
          for (int64_t d = 0; d < kValue; ++d) {
            double sum = 0.0;
            for (int j = 0; j < visible; ++j) sum += scores[j] / total * values[j * kValue + d];
            out.push_back(sum);
          }
        }
      }
      (void)length;
    }
    return out;
  }

  RandomSource random_;
  Tensor cos_sin_, norm_weight_, kv_cache_;
  std::vector<double> angles_;
  ops::LinearWeight kv_b_;
  std::vector<std::vector<std::vector<double>>> reference_entries_;  // [sequence][position][width]
};

TEST_F(MlaTest, CacheWriteStoresNormalizedLatentAndRotatedKey) {
  SCOPED_TRACE(::testing::Message() << "seed " << random_.seed());
  std::vector<Sequence> sequences{{0, 11}, {0, 5}};
  Tensor page_table = write_cache(sequences);
  const int64_t max_pages = page_table.dim(1);
  for (size_t s = 0; s < sequences.size(); ++s)
    for (int t = 0; t < sequences[s].new_tokens; ++t) {
      int page = page_table.data_as<int32_t>()[s * max_pages + t / kPageSize];
      const float* entry = kv_cache_.data_as<float>() + (page * kPageSize + t % kPageSize) * kWidth;
      std::vector<double> actual(entry, entry + kWidth);
      EXPECT_LT(op_testing::relative_l2(actual, reference_entries_[s][t]), 1e-6) << "sequence " << s << " position " << t;
    }
}

TEST_F(MlaTest, CacheWriteCanStoreTheLatentAsW8A8SeesIt) {
  SCOPED_TRACE(::testing::Message() << "seed " << random_.seed());
  Tensor kv_a = random_.normal_tensor({3, kWidth}, 2.0f);
  Tensor positions = Tensor::zeros({3}, DType::kI32), slots = Tensor::empty({3}, DType::kI32);
  for (int t = 0; t < 3; ++t) slots.data_as<int32_t>()[t] = t;
  ops::mla_cache_write(kv_a, norm_weight_, 1e-6, positions, cos_sin_, slots, kv_cache_);
  Tensor plain = Tensor::empty({3, kWidth}, DType::kF32);
  std::copy_n(kv_cache_.data_as<float>(), plain.numel(), plain.data_as<float>());
  ops::mla_cache_write(kv_a, norm_weight_, 1e-6, positions, cos_sin_, slots, kv_cache_, /*quantize_latent=*/true);
  for (int t = 0; t < 3; ++t) {
    const float* entry = kv_cache_.data_as<float>() + t * kWidth;
    const float* normed = plain.data_as<float>() + t * kWidth;
    double amax = 0.0;
    for (int64_t i = 0; i < kLatent; ++i) amax = std::max(amax, std::fabs(double{normed[i]}));
    const double scale = amax / 448.0;  // one group: kLatent < 128
    for (int64_t i = 0; i < kLatent; ++i) {
      float code = fp8_e4m3_to_float(float_to_fp8_e4m3(static_cast<float>(normed[i] / scale)));
      EXPECT_EQ(entry[i], static_cast<float>(code * scale)) << "token " << t << " element " << i;
    }
    for (int64_t i = kLatent; i < kWidth; ++i) EXPECT_EQ(entry[i], normed[i]);  // the rope key is not quantized
  }
}

TEST_F(MlaTest, PrefillOverCachedPrefixAndNewChunkMatchesFloat64) {
  SCOPED_TRACE(::testing::Message() << "seed " << random_.seed());
  // A chunk after a cached prefix that straddles pages, a fresh prompt, and a one-token chunk.
  std::vector<Sequence> sequences{{5, 6}, {0, 9}, {13, 1}};
  Tensor page_table = write_cache(sequences);
  ops::AttentionBatch batch = make_batch(sequences, page_table);
  const int64_t rows = 16;
  Tensor q = random_.normal_tensor({rows, kHeads, kNope + kRope});
  Tensor output = Tensor::empty({rows, kHeads, kValue}, DType::kF32);
  ops::mla_prefill_attention(q, kv_cache_, kv_b_, batch, kScale, output);
  EXPECT_LT(op_testing::relative_l2(op_testing::to_doubles(output), reference_attention(sequences, q)), 1e-5);
}

TEST_F(MlaTest, AbsorbedDecodeMatchesUnabsorbedFloat64) {
  SCOPED_TRACE(::testing::Message() << "seed " << random_.seed());
  std::vector<Sequence> sequences{{7, 1}, {0, 1}, {30, 1}, {12, 1}};
  Tensor page_table = write_cache(sequences);
  ops::AttentionBatch batch = make_batch(sequences, page_table);
  Tensor w_uk = Tensor::empty({kHeads, kLatent, kNope}, DType::kF32);
  Tensor w_uv = Tensor::empty({kHeads, kValue, kLatent}, DType::kF32);
  for (int64_t h = 0; h < kHeads; ++h)
    for (int64_t c = 0; c < kLatent; ++c) {
      for (int64_t d = 0; d < kNope; ++d)
        w_uk.data_as<float>()[(h * kLatent + c) * kNope + d] = op_testing::weight_value(kv_b_, h * (kNope + kValue) + d, c);
      for (int64_t d = 0; d < kValue; ++d)
        w_uv.data_as<float>()[(h * kValue + d) * kLatent + c] =
            op_testing::weight_value(kv_b_, h * (kNope + kValue) + kNope + d, c);
    }
  Tensor q = random_.normal_tensor({4, kHeads, kNope + kRope});
  Tensor output = Tensor::empty({4, kHeads, kValue}, DType::kF32);
  ops::mla_decode_attention(q, kv_cache_, w_uk, w_uv, batch, kScale, output);
  EXPECT_LT(op_testing::relative_l2(op_testing::to_doubles(output), reference_attention(sequences, q)), 1e-5);

  // A page table entry outside the cache is an error, not a wild read.
  page_table.data_as<int32_t>()[0] = kPages;
  EXPECT_THROW(ops::mla_decode_attention(q, kv_cache_, w_uk, w_uv, batch, kScale, output), Error);
}

}  // namespace
}  // namespace dsinfer
