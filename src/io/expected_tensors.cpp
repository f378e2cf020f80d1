#include "io/expected_tensors.h"

namespace dsinfer {

namespace {

// Float weights may come in any of these (DeepSeek ships BF16; conversions sometimes keep F32 or F16).
const std::vector<DType> kFloatDTypes = {DType::kBF16, DType::kF32, DType::kF16};

int64_t ceil_div(int64_t value, int64_t divisor) {
  return (value + divisor - 1) / divisor;
}

class ExpectedList {
 public:
  explicit ExpectedList(const ModelConfig& config) : config_(config) {}

  // Norms, router weights: never quantized.
  void add_float(std::string name, Shape shape) { add(std::move(name), std::move(shape), kFloatDTypes, {}); }

  // The router's correction bias, which DeepSeek ships in F32.
  void add_f32(std::string name, Shape shape) {
    add(std::move(name), std::move(shape), {DType::kF32, DType::kBF16, DType::kF16}, {});
  }

  void add_embedding(std::string name, Shape shape) {
    add_float(std::move(name), std::move(shape));
    tensors_.back().embedding = true;
  }

  // A linear layer's weight, [out, in]; under an FP8 config it may be stored as F8_E4M3 with block scales
  // (DeepSeek keeps a few, e.g. kv_a_proj_with_mqa in some conversions, in BF16).
  void add_linear(std::string name, int64_t out_features, int64_t in_features) {
    if (!config_.quantization.enabled) {
      add(std::move(name), {out_features, in_features}, kFloatDTypes, {});
      return;
    }
    Shape scale_shape = {ceil_div(out_features, config_.quantization.block_rows),
                         ceil_div(in_features, config_.quantization.block_cols)};
    add(std::move(name), {out_features, in_features},
        {DType::kF8E4M3, DType::kBF16, DType::kF32, DType::kF16}, scale_shape);
  }

  void set_position(int layer, int expert, bool mtp) {
    layer_ = layer;
    expert_ = expert;
    mtp_ = mtp;
  }

  std::vector<ExpectedTensor> take() { return std::move(tensors_); }

 private:
  void add(std::string name, Shape shape, std::vector<DType> dtypes, std::optional<Shape> scale_shape) {
    tensors_.push_back({std::move(name), std::move(shape), std::move(dtypes), layer_, expert_, mtp_, false,
                        std::move(scale_shape)});
  }

  const ModelConfig& config_;
  std::vector<ExpectedTensor> tensors_;
  int layer_ = -1;
  int expert_ = -1;
  bool mtp_ = false;
};

void add_mlp(ExpectedList& list, const std::string& prefix, int64_t hidden, int64_t intermediate) {
  list.add_linear(prefix + "gate_proj.weight", intermediate, hidden);
  list.add_linear(prefix + "up_proj.weight", intermediate, hidden);
  list.add_linear(prefix + "down_proj.weight", hidden, intermediate);
}

void add_decoder_layer(ExpectedList& list, const ModelConfig& config, int layer, bool mtp) {
  const int64_t hidden = config.hidden_size;
  const int64_t heads = config.num_attention_heads;
  const std::string prefix = "model.layers." + std::to_string(layer) + ".";
  list.set_position(layer, -1, mtp);
  if (mtp) {
    // The MTP module: its own embedding and head copies, two norms and the [2H -> H] projection that joins
    // the previous hidden state with the next token's embedding, ahead of an ordinary decoder layer.
    list.add_embedding(prefix + "embed_tokens.weight", {config.vocab_size, hidden});
    list.add_float(prefix + "enorm.weight", {hidden});
    list.add_float(prefix + "hnorm.weight", {hidden});
    list.add_linear(prefix + "eh_proj.weight", hidden, 2 * hidden);
    list.add_float(prefix + "shared_head.norm.weight", {hidden});
    list.add_float(prefix + "shared_head.head.weight", {config.vocab_size, hidden});
  }
  list.add_float(prefix + "input_layernorm.weight", {hidden});
  list.add_float(prefix + "post_attention_layernorm.weight", {hidden});

  const std::string attention = prefix + "self_attn.";
  if (config.q_lora_rank) {
    list.add_linear(attention + "q_a_proj.weight", *config.q_lora_rank, hidden);
    list.add_float(attention + "q_a_layernorm.weight", {*config.q_lora_rank});
    list.add_linear(attention + "q_b_proj.weight", heads * config.qk_head_dim(), *config.q_lora_rank);
  } else {
    list.add_linear(attention + "q_proj.weight", heads * config.qk_head_dim(), hidden);
  }
  // [kv_lora_rank latent + shared rope key, hidden]: what the MLA cache stores per token.
  list.add_linear(attention + "kv_a_proj_with_mqa.weight", config.kv_cache_width(), hidden);
  list.add_float(attention + "kv_a_layernorm.weight", {config.kv_lora_rank});
  list.add_linear(attention + "kv_b_proj.weight", heads * (config.qk_nope_head_dim + config.v_head_dim),
                  config.kv_lora_rank);
  list.add_linear(attention + "o_proj.weight", hidden, heads * config.v_head_dim);

  const std::string mlp = prefix + "mlp.";
  if (!config.is_moe_layer(layer)) {
    add_mlp(list, mlp, hidden, config.intermediate_size);
    return;
  }
  list.add_float(mlp + "gate.weight", {config.n_routed_experts, hidden});
  if (config.topk_method == TopkMethod::kNoauxTc) {
    list.add_f32(mlp + "gate.e_score_correction_bias", {config.n_routed_experts});
  }
  for (int expert = 0; expert < config.n_routed_experts; ++expert) {
    list.set_position(layer, expert, mtp);
    add_mlp(list, mlp + "experts." + std::to_string(expert) + ".", hidden, config.moe_intermediate_size);
  }
  list.set_position(layer, -1, mtp);
  if (config.n_shared_experts > 0) {
    add_mlp(list, mlp + "shared_experts.", hidden, config.moe_intermediate_size * config.n_shared_experts);
  }
}

}  // namespace

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& config) {
  ExpectedList list(config);
  if (config.tie_word_embeddings) {
    list.add_float("model.embed_tokens.weight", {config.vocab_size, config.hidden_size});  // also the head
  } else {
    list.add_embedding("model.embed_tokens.weight", {config.vocab_size, config.hidden_size});
  }
  for (int layer = 0; layer < config.num_hidden_layers; ++layer) {
    add_decoder_layer(list, config, layer, false);
  }
  list.set_position(-1, -1, false);
  list.add_float("model.norm.weight", {config.hidden_size});
  if (!config.tie_word_embeddings) list.add_float("lm_head.weight", {config.vocab_size, config.hidden_size});
  for (int index = 0; index < config.num_nextn_predict_layers; ++index) {
    add_decoder_layer(list, config, config.num_hidden_layers + index, true);
  }
  return list.take();
}

std::string fp8_scale_name(const std::string& weight_name) {
  return weight_name + "_scale_inv";
}

void ParameterCounter::add(const ExpectedTensor* tensor, int64_t parameters) {
  count_.total += parameters;
  if (!tensor) return;
  if (tensor->mtp) {
    count_.mtp += parameters;
  } else if (tensor->expert >= 0) {
    routed_per_layer_[tensor->layer] += parameters;
  } else if (!tensor->embedding) {
    count_.active_per_token += parameters;
  }
}

ParameterCount ParameterCounter::result(const ModelConfig& config) const {
  ParameterCount count = count_;
  // Experts of one layer are the same size, so top-k of them hold that fraction of the layer's expert
  // weights.
  for (const auto& [layer, parameters] : routed_per_layer_) {
    count.active_per_token += parameters / config.n_routed_experts * config.num_experts_per_tok;
  }
  return count;
}

ParameterCount count_parameters(const std::vector<ExpectedTensor>& expected, const ModelConfig& config,
                                bool with_mtp) {
  ParameterCounter counter;
  for (const ExpectedTensor& tensor : expected) {
    if (tensor.mtp && !with_mtp) continue;
    counter.add(&tensor, shape_numel(tensor.shape));
  }
  return counter.result(config);
}

}  // namespace dsinfer
