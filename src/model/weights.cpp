#include "model/weights.h"

#include <algorithm>
#include <map>

#include "core/error.h"
#include "io/expected_tensors.h"
#include "ops/copy.h"

namespace dsinfer {

namespace {

class WeightLoader {
 public:
  WeightLoader(const ModelConfig& config, const WeightSource& source, const WeightLoadOptions& options)
      : config_(config), source_(source), options_(options) {
    for (ExpectedTensor& expected : expected_tensors(config)) {
      std::string name = expected.name;
      expected_.emplace(std::move(name), std::move(expected));
    }
  }

  // A norm, bias or embedding: replicated, float.
  Tensor vector_or_table(const std::string& name) { return source_.load(checked(name), TensorSlice::whole(), options_.device); }

  // A float tensor converted to F32 (the router's correction bias is added to F32 scores).
  Tensor as_f32(const std::string& name) {
    Tensor host = source_.load(checked(name), TensorSlice::whole(), Device::kCpu);
    if (host.dtype() != DType::kF32) {
      Tensor converted = Tensor::empty(host.shape(), DType::kF32);
      ops::cast(host, converted);
      host = converted;
    }
    return on_device(host);
  }

  // A projection, whole or sliced (rows = output features, columns = input features), with its FP8 scales.
  ops::LinearWeight linear(const std::string& name, TensorSlice slice = TensorSlice::whole()) {
    return linear_on(name, slice, options_.device);
  }
  ops::LinearWeight linear_on(const std::string& name, TensorSlice slice, Device placement) {
    ops::LinearWeight weight;
    weight.block_rows = config_.quantization.block_rows;
    weight.block_cols = config_.quantization.block_cols;
    const bool fp8 = source_.stored(checked(name)).dtype == DType::kF8E4M3;
    weight.weight = source_.load(name, slice, placement);
    if (fp8) {
      const std::string scale_name = fp8_scale_name(name);
      DSINFER_CHECK(source_.contains(scale_name), source_.location(name), " is F8_E4M3 but its block scales \"",
                    scale_name, "\" are missing (the download is probably incomplete)");
      const Shape& scale_shape = *expected_.at(name).fp8_scale_shape;
      StoredTensor scale = source_.stored(scale_name);
      DSINFER_CHECK(scale.dtype == DType::kF32 && scale.shape == scale_shape, source_.location(scale_name),
                    " is ", dtype_name(scale.dtype), shape_to_string(scale.shape), ", expected F32",
                    shape_to_string(scale_shape), " (one scale per ", weight.block_rows, "x", weight.block_cols,
                    " block)");
      weight.scale_inv = source_.load(scale_name, scale_slice(name, slice, weight), placement);
    }
    return weight;
  }

  ops::MlpWeights mlp(const std::string& prefix, int64_t intermediate) {
    auto [begin, end] = split(intermediate, prefix + "gate_proj.weight", "intermediate size");
    ops::MlpWeights weights;
    weights.gate_proj = linear(prefix + "gate_proj.weight", TensorSlice::rows(begin, end));
    weights.up_proj = linear(prefix + "up_proj.weight", TensorSlice::rows(begin, end));
    weights.down_proj = linear(prefix + "down_proj.weight", TensorSlice::columns(begin, end));
    return weights;
  }

  AttentionWeights attention(const std::string& prefix) {
    const int64_t heads = config_.num_attention_heads, qk = config_.qk_head_dim();
    const int64_t kv_per_head = config_.qk_nope_head_dim + config_.v_head_dim;
    auto [first_head, end_head] = split(heads, prefix + "kv_b_proj.weight", "num_attention_heads");
    AttentionWeights weights;
    if (config_.q_lora_rank) {
      weights.q_a_proj = linear(prefix + "q_a_proj.weight");
      weights.q_a_layernorm = vector_or_table(prefix + "q_a_layernorm.weight");
      weights.q_b_proj = linear(prefix + "q_b_proj.weight", TensorSlice::rows(first_head * qk, end_head * qk));
    } else {
      weights.q_proj = linear(prefix + "q_proj.weight", TensorSlice::rows(first_head * qk, end_head * qk));
    }
    weights.kv_a_proj_with_mqa = linear(prefix + "kv_a_proj_with_mqa.weight");
    weights.kv_a_layernorm = vector_or_table(prefix + "kv_a_layernorm.weight");
    TensorSlice kv_rows = TensorSlice::rows(first_head * kv_per_head, end_head * kv_per_head);
    weights.kv_b_proj = linear(prefix + "kv_b_proj.weight", kv_rows);
    absorb(linear_on(prefix + "kv_b_proj.weight", kv_rows, Device::kCpu), end_head - first_head, weights);
    weights.o_proj = linear(prefix + "o_proj.weight",
                            TensorSlice::columns(first_head * config_.v_head_dim, end_head * config_.v_head_dim));
    return weights;
  }

  MoeWeights moe(const std::string& prefix) {
    MoeWeights weights;
    weights.router = linear(prefix + "gate.weight");
    if (config_.topk_method == TopkMethod::kNoauxTc) weights.score_correction_bias = as_f32(prefix + "gate.e_score_correction_bias");
    DSINFER_CHECK(config_.scoring_func != ScoringFunc::kSigmoid || weights.score_correction_bias.defined(),
                  "config: scoring_func sigmoid needs topk_method noaux_tc (its e_score_correction_bias)");
    for (int expert = 0; expert < config_.n_routed_experts; ++expert) {
      weights.experts.push_back(mlp(prefix + "experts." + std::to_string(expert) + ".", config_.moe_intermediate_size));
    }
    if (config_.n_shared_experts > 0) {
      weights.has_shared_experts = true;
      weights.shared_experts = mlp(prefix + "shared_experts.", config_.moe_intermediate_size * config_.n_shared_experts);
    }
    return weights;
  }

 private:
  // Checks that `name` is a tensor the config implies and that the source's copy has the implied shape and an
  // allowed dtype (F8_E4M3 only for the linears of an FP8 config); returns the name.
  const std::string& checked(const std::string& name) {
    auto found = expected_.find(name);
    DSINFER_CHECK(found != expected_.end(), "internal: the loader asked for \"", name, "\", which the config does not imply");
    const ExpectedTensor& expected = found->second;
    DSINFER_CHECK(source_.contains(name), "tensor \"", name, "\" is missing from the weights (the download is probably incomplete)");
    StoredTensor stored = source_.stored(name);
    DSINFER_CHECK(stored.shape == expected.shape, source_.location(name), " has shape ", shape_to_string(stored.shape),
                  ", expected ", shape_to_string(expected.shape), " (is the checkpoint for this config?)");
    bool allowed = std::find(expected.dtypes.begin(), expected.dtypes.end(), stored.dtype) != expected.dtypes.end();
    DSINFER_CHECK(allowed, source_.location(name), " has dtype ", dtype_name(stored.dtype), ", expected ",
                  dtype_name(expected.dtypes.front()), config_.quantization.enabled ? "" : " (F8_E4M3 needs a quantization_config)",
                  " (is the checkpoint for this config?)");
    return name;
  }

  // [begin, end) of `extent` for this rank.
  std::pair<int64_t, int64_t> split(int64_t extent, const std::string& tensor, const char* what) const {
    DSINFER_CHECK(extent % options_.tp_size == 0, "tensor parallel size ", options_.tp_size, " does not divide ", what,
                  " ", extent, " (", tensor, ")");
    int64_t part = extent / options_.tp_size;
    return {part * options_.tp_rank, part * (options_.tp_rank + 1)};
  }

  // The block scales matching a weight slice; the slice must start (and end, unless at the edge) on a block.
  TensorSlice scale_slice(const std::string& name, const TensorSlice& slice, const ops::LinearWeight& weight) const {
    if (slice.axis == TensorSlice::Axis::kWhole) return slice;
    const bool rows = slice.axis == TensorSlice::Axis::kRows;
    const int64_t block = rows ? weight.block_rows : weight.block_cols;
    const int64_t extent = expected_.at(name).shape[rows ? 0 : 1];
    DSINFER_CHECK(slice.begin % block == 0 && (slice.end % block == 0 || slice.end == extent), "tensor parallel size ",
                  options_.tp_size, " splits FP8 weight \"", name, "\" at ", rows ? "row" : "column", " ", slice.begin,
                  "..", slice.end, ", inside a ", block, "-wide scale block; use a tensor parallel size that keeps "
                  "shards block-aligned");
    const int64_t begin = slice.begin / block, end = (slice.end + block - 1) / block;
    return rows ? TensorSlice::rows(begin, end) : TensorSlice::columns(begin, end);
  }

  // w_uk / w_uv from this rank's kv_b_proj rows (host copy), dequantized, in the activation dtype on the device.
  void absorb(const ops::LinearWeight& kv_b, int64_t heads, AttentionWeights& weights) {
    const int64_t nope = config_.qk_nope_head_dim, value = config_.v_head_dim, latent = config_.kv_lora_rank;
    Tensor key = Tensor::empty({heads, latent, nope}, DType::kF32);  // latent-major: rows of the absorbed product
    Tensor val = Tensor::empty({heads, value, latent}, DType::kF32);
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t d = 0; d < nope + value; ++d) {
        const int64_t row = h * (nope + value) + d;
        if (d < nope) {
          float* key_head = key.data_as<float>() + h * latent * nope;
          for (int64_t c = 0; c < latent; ++c) key_head[c * nope + d] = weight_element(kv_b, row, c);
        } else {
          float* out = val.data_as<float>() + (h * value + d - nope) * latent;
          for (int64_t c = 0; c < latent; ++c) out[c] = weight_element(kv_b, row, c);
        }
      }
    }
    weights.w_uk = to_activation(key);
    weights.w_uv = to_activation(val);
  }

  static float weight_element(const ops::LinearWeight& weight, int64_t row, int64_t column) {
    const int64_t index = row * weight.in_features() + column;
    switch (weight.weight.dtype()) {
      case DType::kF8E4M3:
        return fp8_e4m3_to_float(weight.weight.data_as<const fp8_e4m3>()[index]) *
               weight.scale_inv.data_as<const float>()[(row / weight.block_rows) * weight.scale_inv.dim(1) +
                                                       column / weight.block_cols];
      case DType::kBF16: return bf16_to_float(weight.weight.data_as<const bf16>()[index]);
      case DType::kF16: return f16_to_float(weight.weight.data_as<const uint16_t>()[index]);
      case DType::kF32: return weight.weight.data_as<const float>()[index];
      default: fail("kv_b_proj: unsupported dtype ", weight.weight.describe());
    }
  }

  Tensor to_activation(const Tensor& host_f32) {
    Tensor converted = host_f32;
    if (options_.activation_dtype != DType::kF32) {
      converted = Tensor::empty(host_f32.shape(), options_.activation_dtype);
      ops::cast(host_f32, converted);
    }
    return on_device(converted);
  }

  Tensor on_device(const Tensor& host) {
    if (options_.device == Device::kCpu) return host;
    Tensor placed = Tensor::empty(host.shape(), host.dtype(), options_.device);
    ops::copy(host, placed);
    return placed;
  }

  const ModelConfig& config_;
  const WeightSource& source_;
  const WeightLoadOptions& options_;
  std::map<std::string, ExpectedTensor> expected_;
};

}  // namespace

ModelWeights load_model_weights(const ModelConfig& config, const WeightSource& source, const WeightLoadOptions& options) {
  DSINFER_CHECK(options.tp_size >= 1 && options.tp_rank >= 0 && options.tp_rank < options.tp_size,
                "tensor parallel rank ", options.tp_rank, " is outside [0, ", options.tp_size, ")");
  WeightLoader loader(config, source, options);
  ModelWeights weights;
  weights.embed_tokens = loader.vector_or_table("model.embed_tokens.weight");
  for (int layer = 0; layer < config.num_hidden_layers; ++layer) {
    const std::string prefix = "model.layers." + std::to_string(layer) + ".";
    LayerWeights layer_weights;
    layer_weights.input_layernorm = loader.vector_or_table(prefix + "input_layernorm.weight");
    layer_weights.post_attention_layernorm = loader.vector_or_table(prefix + "post_attention_layernorm.weight");
    layer_weights.attention = loader.attention(prefix + "self_attn.");
    layer_weights.is_moe = config.is_moe_layer(layer);
    if (layer_weights.is_moe) {
      layer_weights.moe = loader.moe(prefix + "mlp.");
    } else {
      layer_weights.mlp = loader.mlp(prefix + "mlp.", config.intermediate_size);
    }
    weights.layers.push_back(std::move(layer_weights));
  }
  weights.norm = loader.vector_or_table("model.norm.weight");
  if (config.tie_word_embeddings) {
    weights.lm_head.weight = weights.embed_tokens;
  } else {
    weights.lm_head = loader.linear("lm_head.weight");
  }
  return weights;
}

}  // namespace dsinfer
