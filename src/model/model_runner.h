// ModelRunner: the model as the engine sees it. It owns the weights, the KV cache memory (the scheduler owns
// page allocation), the workspace and the batch metadata buffers, and runs one forward per call.
#pragma once

#include <cstdint>
#include <memory>
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
};

}  // namespace dsinfer
