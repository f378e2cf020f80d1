#include "model/model_runner.h"

#include <algorithm>

#include "core/error.h"
#include "io/checkpoint.h"
#include "model/communicator.h"
#include "model/decode_graphs.h"
#include "model/deepseek.h"
#include "model/kv_cache.h"
#include "model/step_inputs.h"
#include "model/weight_source.h"
#include "model/weights.h"
#include "ops/argmax_rows.h"
#include "ops/copy.h"
#include "ops/fill_random.h"
#include "ops/device.h"
#include "ops/sample_tokens.h"

namespace dsinfer {

namespace {

constexpr uint64_t kDummyWeightSeed = 0x5eed;

class DeepseekRunner final : public ModelRunner {
 public:
  DeepseekRunner(const ModelConfig& config, ModelWeights weights, std::unique_ptr<Communicator> communicator,
                 const ModelRunnerOptions& options, DType activation_dtype, const StepLimits& limits)
      : config_(config),
        communicator_(std::move(communicator)),
        cache_(config, limits.num_pages, limits.page_size, activation_dtype, options.device),
        preparer_(limits, options.device),
        model_(config, std::move(weights), *communicator_,
               DeepseekOptions{options.device, activation_dtype, limits.max_tokens, limits.max_positions,
                               // CUDA runs FP8 linears as W8A8 always; the model's flag makes the rest agree.
                               options.fp8_activations || options.device == Device::kCuda}) {
    if (options.device == Device::kCuda && options.cuda_graph_max_batch_size > 0) {
      graphs_ = std::make_unique<DecodeGraphs>(options.cuda_graph_max_batch_size, limits);
    }
  }

  const ModelConfig& config() const override { return config_; }
  int page_size() const override { return cache_.page_size(); }
  int num_kv_pages() const override { return cache_.num_pages(); }

  Tensor forward(const ForwardBatch& batch, std::vector<Tensor>* layer_hidden_states) override {
    Tensor logits = device_forward(batch, layer_hidden_states);
    Tensor host = Tensor::empty(logits.shape(), DType::kF32);
    ops::copy(logits, host);
    return host;
  }

  void fill_kv_cache_random(uint64_t seed) override {
    for (int layer = 0; layer < config_.num_hidden_layers; ++layer) {
      ops::fill_random(cache_.layer(layer), seed + static_cast<uint64_t>(layer), -1.0f, 1.0f);
    }
  }

  std::vector<int32_t> forward_greedy(const ForwardBatch& batch) override {
    Tensor logits = device_forward(batch, nullptr);
    const int64_t rows = logits.dim(0);
    if (!ids_.defined() || ids_.dim(0) < rows) ids_ = Tensor::empty({rows}, DType::kI32, logits.device());
    Tensor ids = ids_.slice_rows(0, rows);
    ops::argmax_rows(logits, ids);
    Tensor host = Tensor::empty({rows}, DType::kI32);
    ops::copy(ids, host);
    return std::vector<int32_t>(host.data_as<int32_t>(), host.data_as<int32_t>() + rows);
  }

  Tensor forward_reusing_buffers(const ForwardBatch& batch, const DeviceSampling* sampling, bool return_logits) override {
    Tensor logits = device_forward(batch, nullptr);
    if (sampling != nullptr) sample_on_device(logits, *sampling);
    if (!return_logits) return Tensor();
    if (logits.device() == Device::kCpu) return logits;  // the model's own reused buffer: no copy needed
    const int64_t rows = logits.dim(0);
    if (!host_logits_.defined() || host_logits_.dim(0) < rows) host_logits_ = Tensor::empty({rows, logits.dim(1)}, DType::kF32);
    Tensor host = host_logits_.slice_rows(0, rows);
    ops::copy(logits, host);
    return host;
  }

 private:
  // Logits on the model's device: through a decode graph when one applies, else one eager forward.
  Tensor device_forward(const ForwardBatch& batch, std::vector<Tensor>* layer_hidden_states) {
    if (graphs_ && layer_hidden_states == nullptr && graphs_->fits(batch)) return graphs_->run(batch, model_, cache_);
    const StepInputs& inputs = preparer_.prepare(batch);
    Tensor logits = model_.forward(inputs, cache_, layer_hidden_states);
    if (graphs_) graphs_->note_logits_buffer(logits);
    return logits;
  }

  // ops::sample_tokens over `logits` with the host-side per-row parameters; the ids go back to sampling.ids.
  void sample_on_device(const Tensor& logits, const DeviceSampling& sampling) {
    const int64_t rows = logits.dim(0);
    const auto size = static_cast<size_t>(rows);
    DSINFER_CHECK(sampling.temperature.size() == size && sampling.top_k.size() == size && sampling.top_p.size() == size &&
                      sampling.seeds.size() == size && sampling.ids.size() == size,
                  "model runner: device sampling needs one entry per logits row (", rows, ")");
    const Device device = logits.device();
    auto on_device = [&](const void* host, DType dtype, Tensor& buffer) {
      Tensor source = Tensor::view(const_cast<void*>(host), {rows}, dtype);
      if (device == Device::kCpu) return source;
      if (!buffer.defined() || buffer.dim(0) < rows) buffer = Tensor::empty({rows}, dtype, device);
      Tensor target = buffer.slice_rows(0, rows);
      ops::copy(source, target);
      return target;
    };
    const Tensor temperature = on_device(sampling.temperature.data(), DType::kF32, sampling_temperature_);
    const Tensor top_k = on_device(sampling.top_k.data(), DType::kI32, sampling_top_k_);
    const Tensor top_p = on_device(sampling.top_p.data(), DType::kF32, sampling_top_p_);
    const Tensor seeds = on_device(sampling.seeds.data(), DType::kU64, sampling_seeds_);
    Tensor host_ids = Tensor::view(sampling.ids.data(), {rows}, DType::kI32);
    if (device == Device::kCpu) {
      ops::sample_tokens(logits, temperature, top_k, top_p, seeds, host_ids);
      return;
    }
    if (!ids_.defined() || ids_.dim(0) < rows) ids_ = Tensor::empty({rows}, DType::kI32, device);
    Tensor ids = ids_.slice_rows(0, rows);
    ops::sample_tokens(logits, temperature, top_k, top_p, seeds, ids);
    ops::copy(ids, host_ids);
  }

  ModelConfig config_;
  std::unique_ptr<Communicator> communicator_;
  KvCache cache_;
  StepInputPreparer preparer_;
  DeepseekModel model_;
  std::unique_ptr<DecodeGraphs> graphs_;  // CUDA decode graphs, when enabled
  Tensor ids_;                            // greedy or sampled ids on the device
  Tensor host_logits_;                    // forward_reusing_buffers' logits on the host (device runners)
  Tensor sampling_temperature_, sampling_top_k_, sampling_top_p_, sampling_seeds_;  // device sampling parameters
};

}  // namespace

std::unique_ptr<ModelRunner> ModelRunner::create(const ModelRunnerOptions& options) {
  DSINFER_CHECK(options.page_size > 0, "model runner: page_size must be positive, got ", options.page_size);
  DSINFER_CHECK(options.max_batch_tokens > 0, "model runner: max_batch_tokens must be positive, got ",
                options.max_batch_tokens);
  DSINFER_CHECK(options.tp_size >= 1 && options.tp_rank >= 0 && options.tp_rank < options.tp_size,
                "model runner: tp_rank ", options.tp_rank, " is outside [0, tp_size = ", options.tp_size, ")");
  ops::initialize_device(options.device);
  ModelConfig config = load_model_config(options.model_dir + "/config.json");
  DSINFER_CHECK(options.cuda_activation_dtype == DType::kBF16 || options.cuda_activation_dtype == DType::kF32,
                "model runner: CUDA activations must be BF16 or F32, got ", dtype_name(options.cuda_activation_dtype));
  const DType activation_dtype = options.device == Device::kCpu ? DType::kF32 : options.cuda_activation_dtype;

  int num_pages = options.num_kv_pages;
  if (num_pages == 0) {
    int64_t page_bytes = KvCache::bytes_per_page(config, options.page_size, activation_dtype);
    // Slots (page * page_size + offset) are I32.
    num_pages = static_cast<int>(std::min<int64_t>(options.kv_cache_bytes / page_bytes, INT32_MAX / options.page_size));
    DSINFER_CHECK(num_pages > 0, "model runner: kv_cache_bytes ", options.kv_cache_bytes, " holds no page of ",
                  page_bytes, " bytes (", options.page_size, " tokens)");
  }
  DSINFER_CHECK(num_pages > 0 && static_cast<int64_t>(num_pages) * options.page_size <= INT32_MAX,
                "model runner: num_kv_pages ", num_pages, " x page_size ", options.page_size,
                " must be positive and address at most 2^31 - 1 token slots");
  const int64_t max_positions =
      std::min<int64_t>(config.max_position_embeddings > 0 ? config.max_position_embeddings : INT32_MAX,
                        static_cast<int64_t>(num_pages) * options.page_size);

  std::unique_ptr<WeightSource> source = options.dummy_weights
                                             ? make_dummy_weight_source(config, kDummyWeightSeed)
                                             : make_checkpoint_weight_source(Checkpoint::open(options.model_dir));
  ModelWeights weights = load_model_weights(
      config, *source, WeightLoadOptions{options.device, activation_dtype, options.tp_rank, options.tp_size});
  std::unique_ptr<Communicator> communicator;
  if (options.tp_size == 1) {
    communicator = std::make_unique<SingleProcessCommunicator>();
  } else {
    communicator = std::make_unique<SimulatedRankCommunicator>(options.tp_rank, options.tp_size);
  }
  const StepLimits limits{options.max_batch_tokens, options.page_size, num_pages, static_cast<int>(max_positions),
                          config.vocab_size};
  return std::make_unique<DeepseekRunner>(config, std::move(weights), std::move(communicator), options,
                                          activation_dtype, limits);
}

}  // namespace dsinfer
