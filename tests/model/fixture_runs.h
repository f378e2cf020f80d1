// Shared by the model tests: the checked-in golden fixtures (testdata/fixtures, made by gen.py) and helpers
// that feed token sequences through a ModelRunner in chunks.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "model/model_runner.h"

namespace dsinfer::model_testing {

inline std::string fixture_dir(const std::string& model) { return std::string(DSINFER_TESTDATA_DIR) + "/fixtures/" + model; }

inline const std::vector<std::string>& fixture_models() {
  static const std::vector<std::string> models = {"dsv3-tiny-bf16", "dsv3-tiny-fp8", "dsv2-lite-tiny-bf16",
                                                  "dsv2-tiny-bf16", "dsv3-tiny-fullvocab"};
  return models;
}

class Reference {
 public:
  explicit Reference(const std::string& model)
      : file_(SafetensorsFile::open(fixture_dir(model) + "/reference.safetensors")) {}
  int num_prompts() const {
    int count = 0;
    while (file_->contains("sequence." + std::to_string(count))) ++count;
    return count;
  }
  bool contains(const std::string& name) const { return file_->contains(name); }
  std::vector<int32_t> ids(const std::string& name) const {  // I64 in the file
    Tensor tensor = file_->tensor(name);
    const int64_t* values = tensor.data_as<const int64_t>();
    return std::vector<int32_t>(values, values + tensor.numel());
  }
  Tensor tensor(const std::string& name) const { return file_->tensor(name); }

 private:
  std::shared_ptr<SafetensorsFile> file_;
};

inline ModelRunnerOptions small_cache_options(const std::string& model, int page_size = 16, int pages = 64) {
  ModelRunnerOptions options;
  options.model_dir = fixture_dir(model);
  options.page_size = page_size;
  options.num_kv_pages = pages;
  options.max_batch_tokens = 512;
  return options;
}

// Page ids for one sequence of `length` tokens, taken from a shuffled pool so pages are not contiguous.
inline std::vector<int32_t> scattered_pages(int num_pages, int page_size, int length, uint32_t seed) {
  std::vector<int32_t> pool(num_pages);
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), std::mt19937(seed));
  int needed = (length + page_size - 1) / page_size;
  return std::vector<int32_t>(pool.begin(), pool.begin() + needed);
}

// Runs `ids` through the runner `chunk` tokens at a time (a fresh sequence in `pages`) and returns the logits
// of every position, [L, vocab].
inline Tensor run_in_chunks(ModelRunner& runner, const std::vector<int32_t>& ids, int chunk,
                            const std::vector<int32_t>& pages) {
  const int64_t vocab = runner.config().vocab_size, length = static_cast<int64_t>(ids.size());
  Tensor all = Tensor::empty({length, vocab}, DType::kF32);
  for (int64_t start = 0; start < length; start += chunk) {
    ForwardBatch batch;
    SequenceSlice sequence;
    sequence.num_cached_tokens = static_cast<int32_t>(start);
    sequence.num_new_tokens = static_cast<int32_t>(std::min<int64_t>(chunk, length - start));
    sequence.page_table = pages;
    sequence.all_logits = true;
    batch.sequences.push_back(sequence);
    batch.token_ids.assign(ids.begin() + start, ids.begin() + start + sequence.num_new_tokens);
    Tensor logits = runner.forward(batch);
    std::copy_n(logits.data_as<float>(), logits.numel(), all.data_as<float>() + start * vocab);
  }
  return all;
}

// Relative L2 error |a - b| / |b| of each row.
inline std::vector<double> row_errors(const Tensor& actual, const Tensor& expected) {
  EXPECT_EQ(actual.shape(), expected.shape());
  const int64_t rows = expected.dim(0), width = expected.numel() / std::max<int64_t>(rows, 1);
  std::vector<double> errors;
  for (int64_t r = 0; r < rows; ++r) {
    double difference = 0.0, norm = 0.0;
    for (int64_t i = 0; i < width; ++i) {
      double a = actual.data_as<float>()[r * width + i], b = expected.data_as<float>()[r * width + i];
      difference += (a - b) * (a - b);
      norm += b * b;
    }
    errors.push_back(std::sqrt(difference / std::max(norm, 1e-300)));
  }
  return errors;
}

inline double max_of(const std::vector<double>& values) {
  return values.empty() ? 0.0 : *std::max_element(values.begin(), values.end());
}

inline double median_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0.0 : values[values.size() / 2];
}

}  // namespace dsinfer::model_testing
