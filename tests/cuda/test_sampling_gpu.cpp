// Token sampling (ops/sample_tokens.h): the CPU rule on small cases with known answers and its frequencies
// against the softmax, and the CUDA kernel against the CPU twin on fresh random logits (same seeds, same ids),
// greedy rows included; plus the device argmax.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "gpu_testing.h"
#include "ops/argmax_rows.h"
#include "ops/sample_tokens.h"

namespace dsinfer {
namespace {

using gpu_testing::RandomSource;

struct SamplingRows {
  Tensor temperature, top_k, top_p, seeds;
  explicit SamplingRows(int64_t rows)
      : temperature(Tensor::empty({rows}, DType::kF32)),
        top_k(Tensor::empty({rows}, DType::kI32)),
        top_p(Tensor::empty({rows}, DType::kF32)),
        seeds(Tensor::empty({rows}, DType::kU64)) {}
  void set(int64_t row, float t, int32_t k, float p, uint64_t seed) {
    temperature.data_as<float>()[row] = t;
    top_k.data_as<int32_t>()[row] = k;
    top_p.data_as<float>()[row] = p;
    seeds.data_as<uint64_t>()[row] = seed;
  }
};

int32_t sample_one(const std::vector<float>& logits, float t, int32_t k, float p, uint64_t seed) {
  Tensor row = Tensor::empty({1, static_cast<int64_t>(logits.size())}, DType::kF32);
  std::copy(logits.begin(), logits.end(), row.data_as<float>());
  SamplingRows settings(1);
  settings.set(0, t, k, p, seed);
  Tensor ids = Tensor::empty({1}, DType::kI32);
  ops::sample_tokens(row, settings.temperature, settings.top_k, settings.top_p, settings.seeds, ids);
  return ids.data_as<int32_t>()[0];
}

TEST(SampleTokens, CpuRuleOnKnownCases) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 3.0f, -1.0f};
  EXPECT_EQ(sample_one(logits, 0.0f, 0, 1.0f, 5), 1);  // greedy: first of the tied maxima
  for (uint64_t seed = 0; seed < 50; ++seed) {
    int32_t top1 = sample_one(logits, 1.0f, 1, 1.0f, seed);  // k = 1 keeps both tied 3.0s
    EXPECT_TRUE(top1 == 1 || top1 == 3) << top1;
    int32_t nucleus = sample_one(logits, 1.0f, 0, 0.3f, seed);  // the two 3.0s hold 0.63 of the mass
    EXPECT_TRUE(nucleus == 1 || nucleus == 3) << nucleus;
    int32_t top3 = sample_one(logits, 1.0f, 3, 1.0f, seed);
    EXPECT_NE(top3, 0);
    EXPECT_NE(top3, 4);
  }
  // Frequencies follow softmax(logits / t) when nothing is cut.
  std::vector<int> counts(logits.size(), 0);
  const int draws = 20000;
  for (int seed = 0; seed < draws; ++seed) ++counts[sample_one(logits, 0.7f, 0, 1.0f, 1000003ull * seed + 17)];
  double total = 0.0;
  for (float value : logits) total += std::exp(value / 0.7);
  for (size_t i = 0; i < logits.size(); ++i) {
    double expected = std::exp(logits[i] / 0.7) / total;
    EXPECT_NEAR(counts[i] / static_cast<double>(draws), expected, 0.015) << "id " << i;
  }
}

TEST(SampleTokensGpu, SameIdsAsTheCpuTwin) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  for (int64_t vocab : {512, 129280}) {
    const int64_t rows = 48;
    Tensor logits = random.normal_tensor({rows, vocab}, 3.0f);
    SamplingRows settings(rows);
    for (int64_t r = 0; r < rows; ++r) {
      const int kind = static_cast<int>(r % 6);  // greedy, plain, top-k, top-p, both, k = 1
      float t = kind == 0 ? 0.0f : random.uniform(0.3f, 1.5f);
      int32_t k = kind == 2 || kind == 4 ? random.integer(2, 100) : kind == 5 ? 1 : 0;
      float p = kind == 3 || kind == 4 ? random.uniform(0.1f, 0.95f) : 1.0f;
      settings.set(r, t, k, p, (static_cast<uint64_t>(random.integer(0, 1 << 30)) << 20) + r);
    }
    Tensor expected = Tensor::empty({rows}, DType::kI32);
    ops::sample_tokens(logits, settings.temperature, settings.top_k, settings.top_p, settings.seeds, expected);
    Tensor ids = gpu_testing::poisoned({rows}, DType::kI32);
    ops::sample_tokens(gpu_testing::to_gpu(logits), gpu_testing::to_gpu(settings.temperature),
                       gpu_testing::to_gpu(settings.top_k), gpu_testing::to_gpu(settings.top_p),
                       gpu_testing::to_gpu(settings.seeds), ids);
    Tensor actual = cuda::to_host(ids);
    for (int64_t r = 0; r < rows; ++r)
      EXPECT_EQ(actual.data_as<int32_t>()[r], expected.data_as<int32_t>()[r]) << "vocab " << vocab << " row " << r;
    Tensor argmax = gpu_testing::poisoned({rows}, DType::kI32), host_argmax = Tensor::empty({rows}, DType::kI32);
    ops::argmax_rows(gpu_testing::to_gpu(logits), argmax);
    ops::argmax_rows(logits, host_argmax);
    Tensor device_argmax = cuda::to_host(argmax);
    for (int64_t r = 0; r < rows; ++r)
      EXPECT_EQ(device_argmax.data_as<int32_t>()[r], host_argmax.data_as<int32_t>()[r]) << "argmax row " << r;
  }
}

// argmax_rows splits each row over CTAs of 2048 values whose last one reduces the row: against the CPU twin on
// vocabularies around that chunk and V2-Lite's, 1 to 130 rows, with the maximum tied across chunks, at chunk
// edges and at the end, NaNs mixed in, an all-NaN row and an all -inf row. Each shape runs twice, and with
// growing row counts, so the per-row tickets must come back to zero after every call.
TEST(ArgmaxRowsGpu, MatchesTheCpuTwinOnTiesNansAndChunkEdges) {
  DSINFER_REQUIRE_GPU();
  RandomSource random;
  SCOPED_TRACE(testing::Message() << "seed " << random.seed());
  for (int64_t vocab : {1, 7, 2048, 2049, 6000, 102400}) {
    for (int64_t rows : {1, 5, 130}) {
      SCOPED_TRACE(testing::Message() << rows << " rows of " << vocab);
      Tensor logits = random.normal_tensor({rows, vocab}, 3.0f);
      float* values = logits.data_as<float>();
      for (int64_t r = 0; r < rows; ++r) {
        float* row = values + r * vocab;
        const int kind = static_cast<int>(r % 6);
        if (kind == 1 || kind == 2) {  // the maximum at several places, in different chunks or at the edges
          const int64_t places[] = {random.integer(0, static_cast<int>(vocab - 1)), std::min<int64_t>(2047, vocab - 1),
                                    std::min<int64_t>(2048, vocab - 1), vocab - 1};
          for (int64_t place : places) row[place] = 50.0f;
        }
        if (kind == 2 || kind == 3) {  // NaNs, the first value among them
          row[0] = NAN;
          for (int i = 0; i < 5; ++i) row[random.integer(0, static_cast<int>(vocab - 1))] = NAN;
        }
        if (kind == 4) std::fill_n(row, vocab, NAN);
        if (kind == 5 && r >= 6) std::fill_n(row, vocab, -INFINITY);
      }
      Tensor expected = Tensor::empty({rows}, DType::kI32);
      ops::argmax_rows(logits, expected);
      Tensor device_logits = gpu_testing::to_gpu(logits);
      for (int call = 0; call < 2; ++call) {
        Tensor ids = gpu_testing::poisoned({rows}, DType::kI32);
        ops::argmax_rows(device_logits, ids);
        Tensor actual = cuda::to_host(ids);
        for (int64_t r = 0; r < rows; ++r)
          ASSERT_EQ(actual.data_as<int32_t>()[r], expected.data_as<int32_t>()[r]) << "call " << call << ", row " << r;
      }
    }
  }
}

}  // namespace
}  // namespace dsinfer
