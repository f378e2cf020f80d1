// DeepSeek V2 / V3 model configuration, parsed from a hub config.json ("model_type" deepseek_v2 or
// deepseek_v3). Field names follow config.json. An unsupported or inconsistent value is a dsinfer::Error
// naming the field and the file.
#pragma once

#include <optional>
#include <string>

namespace dsinfer {

enum class TopkMethod { kGreedy, kGroupLimitedGreedy, kNoauxTc };
enum class ScoringFunc { kSoftmax, kSigmoid };

struct RopeScaling {  // "rope_scaling", type "yarn" (absent: plain RoPE, factor 1)
  bool yarn = false;
  double factor = 1.0;
  double mscale = 1.0;
  double mscale_all_dim = 0.0;
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  int64_t original_max_position_embeddings = 4096;
};

struct Fp8Quantization {  // "quantization_config" with quant_method fp8
  bool enabled = false;
  int block_rows = 128;  // weight_block_size[0] (output dim)
  int block_cols = 128;  // weight_block_size[1] (input dim)
  bool dynamic_activations = true;  // activation_scheme "dynamic"
};

struct ModelConfig {
  std::string model_type;  // "deepseek_v2" | "deepseek_v3"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;      // dense MLP layers
  int64_t moe_intermediate_size = 0;  // one routed / shared expert
  int num_hidden_layers = 0;
  int num_nextn_predict_layers = 0;  // MTP layers stored after the main layers (V3)
  int num_attention_heads = 0;
  int num_key_value_heads = 0;
  int n_shared_experts = 0;
  int n_routed_experts = 0;  // 0: no MoE at all
  double routed_scaling_factor = 1.0;
  int64_t kv_lora_rank = 0;
  std::optional<int64_t> q_lora_rank;  // null: q_proj instead of q_a_proj / q_b_proj
  int64_t qk_rope_head_dim = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t v_head_dim = 0;
  TopkMethod topk_method = TopkMethod::kGreedy;
  int n_group = 1;
  int topk_group = 1;
  int num_experts_per_tok = 0;
  int moe_layer_freq = 1;
  int first_k_dense_replace = 0;
  bool norm_topk_prob = false;
  ScoringFunc scoring_func = ScoringFunc::kSoftmax;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  Fp8Quantization quantization;
  bool tie_word_embeddings = false;
  int64_t bos_token_id = -1;
  int64_t eos_token_id = -1;

  int64_t qk_head_dim() const { return qk_nope_head_dim + qk_rope_head_dim; }
  // Width of one token's MLA cache entry: compressed latent + decoupled rope key (576 for V3).
  int64_t kv_cache_width() const { return kv_lora_rank + qk_rope_head_dim; }
  bool is_moe_layer(int layer) const {
    return n_routed_experts > 0 && layer >= first_k_dense_replace && layer % moe_layer_freq == 0;
  }
  // Attention softmax scale: qk_head_dim^-0.5, times mscale(factor, mscale_all_dim)^2 under YaRN.
  double softmax_scale() const;
};

ModelConfig parse_model_config(const std::string& json_text, const std::string& label = "config.json");
ModelConfig load_model_config(const std::string& config_json_path);

}  // namespace dsinfer
