// ModelRunner: the model as the engine sees it. It owns the weights, the KV cache memory (the scheduler owns
// page allocation), the workspace and the batch metadata buffers, and runs one forward per call.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "model/config.h"
#include "model/forward_batch.h"

namespace dsinfer {

struct ModelRunnerOptions {
  std::string model_dir;
  Device device = Device::kCpu;
  bool fp8_activations = false;   // W8A8 emulation on CPU (always on for FP8 weights on CUDA)
  int page_size = 64;             // tokens per KV page
  int num_kv_pages = 0;           // 0: derive from kv_cache_bytes
  int64_t kv_cache_bytes = 256 << 20;
  int max_batch_tokens = 8192;    // workspace size
  // tp_size > 1 runs rank tp_rank's shard alone with the all-reduces skipped (one GPU's share of a
  // tensor-parallel deployment, for timing): its logits are partial sums, not the model's output.
  int tp_size = 1, tp_rank = 0;
  bool dummy_weights = false;     // --load-format dummy: seeded random weights for the config, no checkpoint read
  // CUDA only: decode-only steps of up to this many sequences replay CUDA graphs (one per batch-size bucket,
  // captured on first use; model/decode_graphs.h). 0 runs every step eagerly (--disable-cuda-graph).
  int cuda_graph_max_batch_size = 0;
  // CUDA only: dtype of the activations and the KV cache. BF16 is the serving path; F32 keeps the float32
  // reference numerics end to end (CUDA-core GEMMs for BF16 weights and attention, e4m3 inputs quantized from
  // F32), at a fraction of the speed: what reproducing the W8A8 reference needs (docs/ENGINE.md, GPU section).
  DType cuda_activation_dtype = DType::kBF16;
};

// One token drawn on the model's device for every logits row of a step, by ops::sample_tokens' rule (temperature,
// top-k, top-p, counter-based draw). Host memory, one entry per row of batch.num_logit_rows().
struct DeviceSampling {
  std::span<const float> temperature;  // <= 0: greedy
  std::span<const int32_t> top_k;      // <= 0: no limit
  std::span<const float> top_p;        // (0, 1]
  std::span<const uint64_t> seeds;     // the draw's seed, per row
  std::span<int32_t> ids;              // out: the chosen token of each row
};

class ModelRunner {
 public:
  static std::unique_ptr<ModelRunner> create(const ModelRunnerOptions& options);
  virtual ~ModelRunner() = default;

  virtual const ModelConfig& config() const = 0;
  virtual int page_size() const = 0;
  virtual int num_kv_pages() const = 0;
  // One forward; returns F32 logits on the CPU, [batch.num_logit_rows(), vocab_size], rows in sequence
  // order. Not thread-safe: one engine thread calls it. With `layer_hidden_states`, also returns the residual
  // stream after the embedding and after every layer (host F32 [num_tokens, hidden] each), for debugging.
  virtual Tensor forward(const ForwardBatch& batch, std::vector<Tensor>* layer_hidden_states = nullptr) = 0;
  // One forward and greedy selection on the model's device: the argmax token of each logit row, so only the
  // ids cross to the host (what a decode step costs when the logits themselves are not needed).
  virtual std::vector<int32_t> forward_greedy(const ForwardBatch& batch) = 0;
  // The serving engine's forward, which allocates nothing once its buffers have grown. With `sampling`, also draws
  // one token per logits row on the model's device, so that only ids cross to the host. With `return_logits`,
  // returns the logits as F32 on the CPU, [batch.num_logit_rows(), vocab_size], in a buffer the runner reuses
  // (valid until its next forward; the caller may modify it); else an undefined Tensor.
  virtual Tensor forward_reusing_buffers(const ForwardBatch& batch, const DeviceSampling* sampling,
                                         bool return_logits) = 0;
  // Fills every KV page with seeded random values in [-1, 1) (the scale of RMS-normed latents), for benchmarks
  // that decode over a context they never prefilled: timing over zeros can flatter the kernels.
  virtual void fill_kv_cache_random(uint64_t seed) = 0;
};

}  // namespace dsinfer
