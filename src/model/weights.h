// The model's weights, typed per layer, as one tensor-parallel rank holds them on its device.
//
// Tensor parallelism (rank r of tp): attention heads are split (q_proj / q_b_proj and kv_b_proj rows, o_proj
// columns), as is every MLP's intermediate dim (gate / up rows, down columns) including each routed and shared
// expert; everything else (embedding, norms, q_a / kv_a projections, router, lm_head) is replicated. o_proj and
// down_proj are then row-parallel: their outputs are partial sums the model all-reduces. Under FP8 a split must
// fall on a 128-block boundary.
#pragma once

#include <vector>

#include "core/tensor.h"
#include "model/config.h"
#include "model/weight_source.h"
#include "ops/linear.h"
#include "ops/moe_experts.h"

namespace dsinfer {

struct AttentionWeights {
  // Query: with q LoRA, q_a_proj [q_lora_rank, H] -> q_a_layernorm -> q_b_proj [heads * qk_head_dim, q_lora_rank];
  // without (V2-Lite), q_proj [heads * qk_head_dim, H]. Heads are this rank's.
  ops::LinearWeight q_a_proj;
  Tensor q_a_layernorm;  // [q_lora_rank]
  ops::LinearWeight q_b_proj;
  ops::LinearWeight q_proj;
  ops::LinearWeight kv_a_proj_with_mqa;  // [kv_lora_rank + qk_rope, H]
  Tensor kv_a_layernorm;                 // [kv_lora_rank]
  ops::LinearWeight kv_b_proj;           // [heads * (qk_nope + v_head_dim), kv_lora_rank], prefill expansion
  Tensor w_uk;                           // [heads, kv_lora_rank, qk_nope] kv_b_proj's key rows per head, transposed
  Tensor w_uv;                           // [heads, v_head_dim, kv_lora_rank] its value rows, activation dtype
  ops::LinearWeight o_proj;              // [H, heads * v_head_dim]
};

struct MoeWeights {
  ops::LinearWeight router;      // mlp.gate.weight [n_routed_experts, H], replicated
  Tensor score_correction_bias;  // [n_routed_experts] F32 (noaux_tc), or undefined
  std::vector<ops::MlpWeights> experts;
  bool has_shared_experts = false;
  ops::MlpWeights shared_experts;  // intermediate n_shared_experts * moe_intermediate_size
};

struct LayerWeights {
  Tensor input_layernorm;           // [H]
  Tensor post_attention_layernorm;  // [H]
  AttentionWeights attention;
  bool is_moe = false;
  ops::MlpWeights mlp;  // dense layers
  MoeWeights moe;       // MoE layers
};

struct ModelWeights {
  Tensor embed_tokens;  // [vocab, H]
  std::vector<LayerWeights> layers;
  Tensor norm;                // [H]
  ops::LinearWeight lm_head;  // [vocab, H] (embed_tokens when tie_word_embeddings)
};

struct WeightLoadOptions {
  Device device = Device::kCpu;
  DType activation_dtype = DType::kF32;  // of the absorbed attention weights
  int tp_rank = 0;
  int tp_size = 1;
};

// Loads and checks every weight of the main layers (not MTP): each tensor's full shape and dtype against what
// `config` implies, with errors naming the tensor and its file; divisibility of heads and intermediate dims
// by tp_size. Loads only this rank's slices.
ModelWeights load_model_weights(const ModelConfig& config, const WeightSource& source, const WeightLoadOptions& options);

}  // namespace dsinfer
