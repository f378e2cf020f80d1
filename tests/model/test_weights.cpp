// Weight loading: tensor-parallel shards (each rank's slices concatenate to the full tensors, and two ranks run
// in one process with an in-process all-reduce give the single-rank logits), errors that name the tensor, and
// dummy weights.
#include <gtest/gtest.h>

#include <barrier>
#include <cstring>
#include <thread>

#include "core/error.h"
#include "fixture_runs.h"
#include "io/checkpoint.h"
#include "model/communicator.h"
#include "model/deepseek.h"
#include "model/weights.h"

namespace dsinfer {
namespace {

using namespace model_testing;

ModelWeights load_rank(const ModelConfig& config, const WeightSource& source, int rank, int size) {
  return load_model_weights(config, source, WeightLoadOptions{Device::kCpu, DType::kF32, rank, size});
}

// Rows of a 2-D CPU tensor as bytes, for comparing slices.
std::string row_bytes(const Tensor& tensor, int64_t row, int64_t column_begin, int64_t column_end) {
  const size_t element = dtype_size(tensor.dtype());
  const char* base = static_cast<const char*>(tensor.data()) + (row * tensor.dim(1) + column_begin) * element;
  return std::string(base, (column_end - column_begin) * element);
}

TEST(TensorParallelShards, ConcatenateToTheFullTensors) {
  const std::string model = "dsv3-tiny-bf16";
  ModelConfig config = load_model_config(fixture_dir(model) + "/config.json");
  auto source = make_checkpoint_weight_source(Checkpoint::open(fixture_dir(model)));
  ModelWeights full = load_rank(config, *source, 0, 1);
  std::vector<ModelWeights> ranks;
  for (int rank = 0; rank < 2; ++rank) ranks.push_back(load_rank(config, *source, rank, 2));

  auto check_rows = [&](auto pick, const char* what) {
    const Tensor& whole = pick(full).weight;
    int64_t offset = 0;
    for (auto& shard : ranks) {
      const Tensor& part = pick(shard).weight;
      EXPECT_EQ(part.dim(1), whole.dim(1)) << what;
      for (int64_t r = 0; r < part.dim(0); ++r)
        ASSERT_EQ(row_bytes(part, r, 0, part.dim(1)), row_bytes(whole, offset + r, 0, whole.dim(1))) << what;
      offset += part.dim(0);
    }
    EXPECT_EQ(offset, whole.dim(0)) << what;
  };
  auto check_columns = [&](auto pick, const char* what) {
    const Tensor& whole = pick(full).weight;
    int64_t offset = 0;
    for (auto& shard : ranks) {
      const Tensor& part = pick(shard).weight;
      for (int64_t r = 0; r < part.dim(0); ++r)
        ASSERT_EQ(row_bytes(part, r, 0, part.dim(1)), row_bytes(whole, r, offset, offset + part.dim(1))) << what;
      offset += part.dim(1);
    }
    EXPECT_EQ(offset, whole.dim(1)) << what;
  };
  check_rows([](ModelWeights& w) -> ops::LinearWeight& { return w.layers[1].attention.q_b_proj; }, "q_b_proj");
  check_rows([](ModelWeights& w) -> ops::LinearWeight& { return w.layers[1].attention.kv_b_proj; }, "kv_b_proj");
  check_columns([](ModelWeights& w) -> ops::LinearWeight& { return w.layers[1].attention.o_proj; }, "o_proj");
  check_rows([](ModelWeights& w) -> ops::LinearWeight& { return w.layers[0].mlp.gate_proj; }, "dense gate_proj");
  check_columns([](ModelWeights& w) -> ops::LinearWeight& { return w.layers[0].mlp.down_proj; }, "dense down_proj");
  check_rows([](ModelWeights& w) -> ops::LinearWeight& { return w.layers[2].moe.experts[5].up_proj; }, "expert up_proj");
  check_columns([](ModelWeights& w) -> ops::LinearWeight& { return w.layers[2].moe.experts[5].down_proj; },
                "expert down_proj");
  check_rows([](ModelWeights& w) -> ops::LinearWeight& { return w.layers[1].moe.shared_experts.gate_proj; },
             "shared gate_proj");
  // Replicated pieces are the same views on every rank.
  EXPECT_EQ(ranks[1].layers[1].attention.kv_a_proj_with_mqa.weight.data(), full.layers[1].attention.kv_a_proj_with_mqa.weight.data());
  // Absorbed weights: rank 1 holds heads 2..3.
  EXPECT_EQ(std::memcmp(ranks[1].layers[2].attention.w_uk.data(),
                        full.layers[2].attention.w_uk.slice_rows(2, 4).data(), ranks[1].layers[2].attention.w_uk.nbytes()),
            0);
}

// All ranks of one process: all_reduce_sum waits for every rank, then each sums every rank's tensor.
class InProcessGroup {
 public:
  explicit InProcessGroup(int size) : size_(size), tensors_(size), phase_(size) {}
  class Member final : public Communicator {
   public:
    Member(InProcessGroup& group, int rank) : group_(group), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return group_.size_; }
    void all_reduce_sum(Tensor& tensor) override {
      group_.tensors_[rank_] = tensor;
      group_.phase_.arrive_and_wait();  // every rank's partial is published
      std::vector<float> sum(static_cast<size_t>(tensor.numel()), 0.0f);
      for (const Tensor& part : group_.tensors_)
        for (int64_t i = 0; i < part.numel(); ++i) sum[i] += part.data_as<float>()[i];
      group_.phase_.arrive_and_wait();  // everyone has read every partial
      std::copy(sum.begin(), sum.end(), tensor.data_as<float>());
    }

   private:
    InProcessGroup& group_;
    int rank_;
  };

 private:
  int size_;
  std::vector<Tensor> tensors_;
  std::barrier<> phase_;
};

class TensorParallelForward : public ::testing::TestWithParam<std::string> {};

TEST_P(TensorParallelForward, TwoRanksGiveTheSingleRankLogits) {
  const std::string model = GetParam();
  ModelConfig config = load_model_config(fixture_dir(model) + "/config.json");
  auto source = make_checkpoint_weight_source(Checkpoint::open(fixture_dir(model)));
  Reference reference(model);
  std::vector<int32_t> ids = reference.ids("sequence.2");
  ForwardBatch batch;
  batch.token_ids = ids;
  batch.sequences.push_back({0, static_cast<int32_t>(ids.size()), {0, 1, 2, 3}, true});

  InProcessGroup group(2);
  std::vector<Tensor> logits(2);
  auto run_rank = [&](int rank) {
    InProcessGroup::Member communicator(group, rank);
    DeepseekModel model(config, load_rank(config, *source, rank, 2), communicator,
                        DeepseekOptions{Device::kCpu, DType::kF32, 64, 64, false});
    KvCache cache(config, 4, 16, DType::kF32, Device::kCpu);
    StepInputPreparer preparer(StepLimits{64, 16, 4, 64, config.vocab_size}, Device::kCpu);
    Tensor result = model.forward(preparer.prepare(batch), cache);
    logits[rank] = Tensor::empty(result.shape(), DType::kF32);
    std::memcpy(logits[rank].data(), result.data(), result.nbytes());
  };
  std::thread other(run_rank, 1);
  run_rank(0);
  other.join();
  for (int rank = 0; rank < 2; ++rank) {
    EXPECT_LE(max_of(row_errors(logits[rank], reference.tensor("logits.2"))), 1e-4) << "rank " << rank;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, TensorParallelForward,
                         ::testing::Values("dsv3-tiny-bf16", "dsv2-lite-tiny-bf16", "dsv2-tiny-bf16"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(WeightErrors, IndivisibleOrMisalignedSplitsAreRejected) {
  ModelConfig config = load_model_config(fixture_dir("dsv3-tiny-bf16") + "/config.json");
  auto source = make_checkpoint_weight_source(Checkpoint::open(fixture_dir("dsv3-tiny-bf16")));
  try {
    load_rank(config, *source, 0, 3);
    FAIL() << "tp 3 of 4 heads";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("does not divide num_attention_heads 4"), std::string::npos) << error.what();
  }
  ModelConfig fp8 = load_model_config(fixture_dir("dsv3-tiny-fp8") + "/config.json");
  auto fp8_source = make_checkpoint_weight_source(Checkpoint::open(fixture_dir("dsv3-tiny-fp8")));
  try {
    load_rank(fp8, *fp8_source, 1, 2);  // 384 q_b rows split at 192: inside a 128 block
    FAIL() << "misaligned FP8 split";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("inside a 128-wide scale block"), std::string::npos) << error.what();
  }
}

// A source that misreports one tensor, as a checkpoint for another config would.
class LyingSource final : public WeightSource {
 public:
  LyingSource(const WeightSource& real, std::string name, StoredTensor lie)
      : real_(real), name_(std::move(name)), lie_(std::move(lie)) {}
  bool contains(const std::string& name) const override { return real_.contains(name); }
  StoredTensor stored(const std::string& name) const override { return name == name_ ? lie_ : real_.stored(name); }
  std::string location(const std::string& name) const override { return real_.location(name); }
  Tensor load(const std::string& name, const TensorSlice& slice, Device device) const override {
    return real_.load(name, slice, device);
  }

 private:
  const WeightSource& real_;
  std::string name_;
  StoredTensor lie_;
};

TEST(WeightErrors, WrongShapeOrDtypeNamesTheTensorAndFile) {
  ModelConfig config = load_model_config(fixture_dir("dsv3-tiny-bf16") + "/config.json");
  auto source = make_checkpoint_weight_source(Checkpoint::open(fixture_dir("dsv3-tiny-bf16")));
  const std::string name = "model.layers.1.self_attn.kv_b_proj.weight";
  for (StoredTensor lie : {StoredTensor{{256, 63}, DType::kBF16}, StoredTensor{{256, 64}, DType::kF8E4M3}}) {
    LyingSource lying(*source, name, lie);
    try {
      load_rank(config, lying, 0, 1);
      FAIL() << "expected an error";
    } catch (const Error& error) {
      std::string message = error.what();
      EXPECT_NE(message.find(name), std::string::npos) << message;
      EXPECT_NE(message.find("model-00001-of-00001.safetensors"), std::string::npos) << message;
    }
  }
}

TEST(DummyWeights, RunTheArchitectureWithoutACheckpointAndAreDeterministic) {
  for (const std::string model : {"dsv3-tiny-fp8", "dsv2-lite-tiny-bf16"}) {
    ModelRunnerOptions options = small_cache_options(model);
    options.dummy_weights = true;
    auto first = ModelRunner::create(options), second = ModelRunner::create(options);
    std::vector<int32_t> ids = {3, 17, 42, 99, 7};
    Tensor a = run_in_chunks(*first, ids, 5, {0});
    Tensor b = run_in_chunks(*second, ids, 1, {1});
    double norm = 0.0;
    for (int64_t i = 0; i < a.numel(); ++i) {
      ASSERT_TRUE(std::isfinite(a.data_as<float>()[i])) << model;
      norm += a.data_as<float>()[i] * a.data_as<float>()[i];
    }
    EXPECT_GT(norm, 0.0) << model;
    EXPECT_LE(max_of(row_errors(b, a)), 1e-4) << model << ": decode vs prefill on the same dummy weights";
  }
}

TEST(SimulatedRank, RunsOneShardAloneWithTheReductionsSkipped) {
  ModelRunnerOptions options = small_cache_options("dsv3-tiny-bf16");
  options.tp_size = 2;
  options.tp_rank = 1;
  auto runner = ModelRunner::create(options);
  Tensor logits = run_in_chunks(*runner, {3, 17, 42}, 3, {0});
  ASSERT_EQ(logits.shape(), Shape({3, 512}));
  for (int64_t i = 0; i < logits.numel(); ++i) ASSERT_TRUE(std::isfinite(logits.data_as<float>()[i]));
  // Partial sums, so not the model's logits.
  Tensor full = run_in_chunks(*ModelRunner::create(small_cache_options("dsv3-tiny-bf16")), {3, 17, 42}, 3, {0});
  EXPECT_GT(max_of(row_errors(logits, full)), 1e-2);
  options.tp_rank = 2;
  EXPECT_THROW(ModelRunner::create(options), Error);
}

}  // namespace
}  // namespace dsinfer
