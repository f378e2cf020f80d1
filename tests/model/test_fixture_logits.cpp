// The whole model on every golden fixture: one causal forward, chunked prefill (chunks straddling small
// pages), token-by-token decoding through the absorbed decode path, hidden states layer by layer, and W8A8.
#include <gtest/gtest.h>

#include <cstdio>

#include "fixture_runs.h"
#include "io/checkpoint.h"

namespace dsinfer {
namespace {

using namespace model_testing;

constexpr double kFloat32Bound = 1e-4;  // fixtures README: float32 compute, every position

class FixtureTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    reference_ = std::make_unique<Reference>(GetParam());
    runner_ = ModelRunner::create(small_cache_options(GetParam()));
  }
  // Every prompt's full sequence in chunks of `chunk`, each checked against logits.i at every position.
  void check_all_prompts(int chunk, const char* what) {
    for (int prompt = 0; prompt < reference_->num_prompts(); ++prompt) {
      std::vector<int32_t> ids = reference_->ids("sequence." + std::to_string(prompt));
      auto pages = scattered_pages(runner_->num_kv_pages(), runner_->page_size(), static_cast<int>(ids.size()), prompt);
      Tensor logits = run_in_chunks(*runner_, ids, chunk == 0 ? static_cast<int>(ids.size()) : chunk, pages);
      auto errors = row_errors(logits, reference_->tensor("logits." + std::to_string(prompt)));
      EXPECT_LE(max_of(errors), kFloat32Bound) << what << ", prompt " << prompt << " (" << ids.size() << " tokens)";
    }
  }
  std::unique_ptr<Reference> reference_;
  std::unique_ptr<ModelRunner> runner_;
};

TEST_P(FixtureTest, OneForwardMatchesEveryPosition) { check_all_prompts(0, "one forward"); }

TEST_P(FixtureTest, ChunkedPrefillMatches) {
  check_all_prompts(5, "chunks of 5");    // straddle the 16-token pages
  check_all_prompts(64, "chunks of 64");  // several pages per chunk
}

TEST_P(FixtureTest, TokenByTokenDecodingMatches) { check_all_prompts(1, "token by token"); }

// The residual stream after each layer. HF's last hidden state (hidden.1.L) is taken after the final norm, so
// that one is compared after applying model.norm (in float64) to the engine's residual.
TEST_P(FixtureTest, HiddenStatesMatchLayerByLayer) {
  std::vector<int32_t> ids = reference_->ids("sequence.1");
  ForwardBatch batch;
  batch.token_ids = ids;
  batch.sequences.push_back({0, static_cast<int32_t>(ids.size()), {0, 1}, true});
  std::vector<Tensor> hidden;
  runner_->forward(batch, &hidden);
  const int layers = runner_->config().num_hidden_layers;
  ASSERT_EQ(static_cast<int>(hidden.size()), layers + 1);
  for (int layer = 0; layer < layers; ++layer) {
    auto errors = row_errors(hidden[layer], reference_->tensor("hidden.1." + std::to_string(layer)));
    EXPECT_LE(max_of(errors), kFloat32Bound) << "hidden state after layer " << layer;
  }
  Tensor norm = Checkpoint::open(fixture_dir(GetParam())).tensor("model.norm.weight");
  Tensor normed = Tensor::empty(hidden.back().shape(), DType::kF32);
  const int64_t width = normed.dim(1);
  for (int64_t row = 0; row < normed.dim(0); ++row) {
    const float* x = hidden.back().data_as<float>() + row * width;
    double sum = 0.0;
    for (int64_t i = 0; i < width; ++i) sum += static_cast<double>(x[i]) * x[i];
    for (int64_t i = 0; i < width; ++i)
      normed.data_as<float>()[row * width + i] = static_cast<float>(
          bf16_to_float(norm.data_as<bf16>()[i]) * x[i] / std::sqrt(sum / width + runner_->config().rms_norm_eps));
  }
  auto errors = row_errors(normed, reference_->tensor("hidden.1." + std::to_string(layers)));
  EXPECT_LE(max_of(errors), kFloat32Bound) << "final hidden state (after model.norm)";
}

INSTANTIATE_TEST_SUITE_P(Models, FixtureTest, ::testing::ValuesIn(fixture_models()), [](const auto& info) {
  std::string name = info.param;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
});

// W8A8 emulation against logits_w8a8. The engine applies the reference's quantization recipe exactly (scales
// in double, the latents quantized in the cache for both attention paths), so positions agree to float32
// rounding until an activation within float32 error of an e4m3 rounding midpoint rounds the other way; from
// there the sequence differs by about 2e-2 (on this fixture: once, at prompt 3's position 9). Hence: the
// README's bound on the median, and exact agreement on the first positions of at least 3 of the 4 prompts.
TEST(Fp8Activations, W8A8EmulationTracksTheW8A8Reference) {
  const std::string model = "dsv3-tiny-fp8";
  Reference reference(model);
  ModelRunnerOptions options = small_cache_options(model);
  options.fp8_activations = true;
  auto runner = ModelRunner::create(options);
  for (int chunk : {0, 1}) {  // one forward (un-absorbed attention) and token-by-token (absorbed decode)
    std::vector<double> all_errors, exact_errors;
    int prompts_exact_at_start = 0;
    for (int prompt = 0; prompt < reference.num_prompts(); ++prompt) {
      std::vector<int32_t> ids = reference.ids("sequence." + std::to_string(prompt));
      auto pages = scattered_pages(runner->num_kv_pages(), runner->page_size(), static_cast<int>(ids.size()), prompt);
      Tensor logits = run_in_chunks(*runner, ids, chunk == 0 ? static_cast<int>(ids.size()) : chunk, pages);
      auto errors = row_errors(logits, reference.tensor("logits_w8a8." + std::to_string(prompt)));
      auto versus_exact = row_errors(logits, reference.tensor("logits." + std::to_string(prompt)));
      all_errors.insert(all_errors.end(), errors.begin(), errors.end());
      exact_errors.insert(exact_errors.end(), versus_exact.begin(), versus_exact.end());
      prompts_exact_at_start += max_of(std::vector<double>(errors.begin(), errors.begin() + 5)) < 1e-5;
    }
    const size_t exact_positions = std::count_if(all_errors.begin(), all_errors.end(), [](double e) { return e < 1e-5; });
    std::printf("W8A8 %s vs logits_w8a8: median %.2e, max %.2e, %zu of %zu positions within 1e-5; "
                "vs exact logits: median %.2e\n",
                chunk == 0 ? "one forward" : "token by token", median_of(all_errors), max_of(all_errors),
                exact_positions, all_errors.size(), median_of(exact_errors));
    EXPECT_LE(median_of(all_errors), 3e-2);  // the README's W8A8 bound
    EXPECT_GE(prompts_exact_at_start, 3);
    EXPECT_GT(median_of(exact_errors), 5e-3);  // the quantization is really applied
  }
}

}  // namespace
}  // namespace dsinfer
