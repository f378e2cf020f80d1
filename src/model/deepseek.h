// DeepseekModel: the DeepSeek V2 / V3 architecture (MLA attention with or without q LoRA, dense and MoE
// layers, all three routing methods), written only against the op interface, so one definition runs on every
// backend. It runs one forward over StepInputs (decode tokens first, then prefill tokens) and a paged KV cache.
#pragma once

#include <vector>

#include "core/tensor.h"
#include "model/communicator.h"
#include "model/config.h"
#include "model/kv_cache.h"
#include "model/step_inputs.h"
#include "model/weights.h"
#include "ops/moe_routing.h"

namespace dsinfer {

struct DeepseekOptions {
  Device device = Device::kCpu;
  DType activation_dtype = DType::kF32;  // F32 on the CPU backend; BF16 (or F32) on CUDA
  int max_tokens = 8192;                 // workspace rows: the most tokens one forward may hold
  int64_t max_positions = 4096;          // rope table rows
  bool fp8_activations = false;          // W8A8 emulation for FP8 linears (CPU)
};

class DeepseekModel {
 public:
  // `weights` are this rank's (see weights.h); `communicator` sums the row-parallel partial outputs.
  DeepseekModel(const ModelConfig& config, ModelWeights weights, Communicator& communicator,
                const DeepseekOptions& options);

  // One forward. Writes the new tokens' KV entries into `cache` and returns the logits of the rows listed in
  // inputs.logit_rows: [num_logit_rows, vocab] F32 on the model's device, a view of a buffer reused by the next
  // call. If `layer_hidden_states` is given, it receives num_hidden_layers + 1 host F32 tensors [T, H]: the
  // residual stream after the embedding (0) and after each layer.
  Tensor forward(const StepInputs& inputs, KvCache& cache, std::vector<Tensor>* layer_hidden_states = nullptr);

  const ModelConfig& config() const { return config_; }

 private:
  // Activation buffers [max_tokens, width] on the device; each step uses their first T rows.
  struct Workspace {
    Tensor residual;        // [M, H]
    Tensor normed;          // [M, H]
    Tensor q_lora;          // [M, q_lora_rank]
    Tensor query;           // [M, heads * qk_head_dim]
    Tensor kv_a;            // [M, kv_lora_rank + qk_rope]
    Tensor attention;       // [M, heads * v_head_dim]
    Tensor attention_out;   // [M, H]
    Tensor mlp_out;         // [M, H]
    Tensor activation;      // [M, widest local dense intermediate]: silu(gate) * up of the dense MLPs
    Tensor router_logits;   // [M, n_routed_experts] F32
    Tensor topk_ids;        // [M, top_k] I32
    Tensor topk_weights;    // [M, top_k] F32
    ops::ExpertOrder expert_order;  // [n_routed_experts + 1] x 3, [M * top_k] x 2: assignments sorted by expert
    Tensor zeros;           // [M, H]: the MoE output's start when a model has no shared experts
    Tensor logits;          // [rows, vocab] F32, grown on demand
  };

  void attention(int layer, const StepInputs& inputs, KvCache& cache, int tokens);
  void dense_mlp(const ops::MlpWeights& mlp, const Tensor& input, Tensor& output, int tokens);
  void moe(const MoeWeights& moe, int tokens);
  Tensor rows(const Tensor& buffer, int tokens) const { return buffer.slice_rows(0, tokens); }
  // A dense [row_count, width] view over the start of a wider buffer (intermediate dims differ per layer).
  Tensor scratch(const Tensor& buffer, int64_t row_count, int64_t width) const;
  void capture(const Tensor& residual, std::vector<Tensor>* layer_hidden_states) const;

  ModelConfig config_;
  ModelWeights weights_;
  Communicator& communicator_;
  DeepseekOptions options_;
  int local_heads_;
  double softmax_scale_;
  ops::MoeRoutingParams routing_;
  Tensor rope_table_;  // [max_positions, qk_rope] F32 on the device
  Workspace workspace_;
};

}  // namespace dsinfer
