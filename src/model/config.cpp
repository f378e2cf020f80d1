// Parses a hub config.json for DeepSeek V2 / V3. Absent fields take the defaults of the configuration class
// DeepSeek ships with each checkpoint (configuration_deepseek.py: DeepseekV2Config / DeepseekV3Config), so a
// config accepted by transformers means the same model here. Everything the engine does not implement is an
// error naming the field, never a silent fallback.
#include "model/config.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace dsinfer {

namespace {

using Json = nlohmann::json;

// Defaults that differ between the two configuration classes.
struct ModelTypeDefaults {
  int64_t vocab_size, hidden_size, intermediate_size, moe_intermediate_size;
  int num_hidden_layers, num_attention_heads, n_shared_experts, n_routed_experts, num_experts_per_tok;
  int n_group, topk_group, first_k_dense_replace, num_nextn_predict_layers;
  double routed_scaling_factor;
  const char* topk_method;
  const char* scoring_func;
  bool norm_topk_prob;
  int64_t max_position_embeddings, bos_token_id, eos_token_id;
};

// DeepseekV3Config's defaults describe DeepSeek-V3 itself.
constexpr ModelTypeDefaults kDeepseekV3Defaults = {
    .vocab_size = 129280,
    .hidden_size = 7168,
    .intermediate_size = 18432,
    .moe_intermediate_size = 2048,
    .num_hidden_layers = 61,
    .num_attention_heads = 128,
    .n_shared_experts = 1,
    .n_routed_experts = 256,
    .num_experts_per_tok = 8,
    .n_group = 8,
    .topk_group = 4,
    .first_k_dense_replace = 3,
    .num_nextn_predict_layers = 1,
    .routed_scaling_factor = 2.5,
    .topk_method = "noaux_tc",
    .scoring_func = "sigmoid",
    .norm_topk_prob = true,
    .max_position_embeddings = 4096,
    .bos_token_id = 0,
    .eos_token_id = 1,
};
// DeepseekV2Config's: experts None (a dense model), which is 0 here. Its topk_method default is the misspelt
// "gready", on which its own MoE gate fails; "greedy" is what it means.
constexpr ModelTypeDefaults kDeepseekV2Defaults = {
    .vocab_size = 102400,
    .hidden_size = 4096,
    .intermediate_size = 11008,
    .moe_intermediate_size = 1407,
    .num_hidden_layers = 30,
    .num_attention_heads = 32,
    .n_shared_experts = 0,
    .n_routed_experts = 0,
    .num_experts_per_tok = 0,
    .n_group = 1,
    .topk_group = 1,
    .first_k_dense_replace = 0,
    .num_nextn_predict_layers = 0,
    .routed_scaling_factor = 1.0,
    .topk_method = "greedy",
    .scoring_func = "softmax",
    .norm_topk_prob = false,
    .max_position_embeddings = 2048,
    .bos_token_id = 100000,
    .eos_token_id = 100001,
};

// Reads typed fields of one JSON object, naming "LABEL: field 'PREFIX.NAME'" in every error.
class FieldReader {
 public:
  FieldReader(const Json& object, const std::string& label, std::string prefix = "")
      : object_(object), label_(label), prefix_(std::move(prefix)) {}

  bool has(const char* field) const { return object_.contains(field) && !object_.at(field).is_null(); }
  bool is_null(const char* field) const { return object_.contains(field) && object_.at(field).is_null(); }
  const Json* find(const char* field) const { return has(field) ? &object_.at(field) : nullptr; }

  int64_t integer(const char* field, int64_t fallback, int64_t minimum, int64_t maximum) const {
    const Json* value = find(field);
    if (!value) return fallback;
    // 7168.0 is not an integer to Python either: transformers would fail on it later, less clearly.
    if (!value->is_number_integer()) error(field, "must be an integer, got ", value->dump());
    if (value->is_number_unsigned() && value->get<uint64_t>() > static_cast<uint64_t>(maximum)) {
      error(field, "is ", value->dump(), ", outside the supported range [", minimum, ", ", maximum, "]");
    }
    int64_t number = value->get<int64_t>();
    if (number < minimum || number > maximum) {
      error(field, "is ", number, ", outside the supported range [", minimum, ", ", maximum, "]");
    }
    return number;
  }

  int small_integer(const char* field, int fallback, int minimum) const {
    return static_cast<int>(integer(field, fallback, minimum, std::numeric_limits<int>::max()));
  }

  double number(const char* field, double fallback) const {
    const Json* value = find(field);
    if (!value) return fallback;
    if (!value->is_number()) error(field, "must be a number, got ", value->dump());
    double number = value->get<double>();
    if (!std::isfinite(number)) error(field, "must be finite, got ", value->dump());
    return number;
  }

  bool boolean(const char* field, bool fallback) const {
    const Json* value = find(field);
    if (!value) return fallback;
    if (!value->is_boolean()) error(field, "must be true or false, got ", value->dump());
    return value->get<bool>();
  }

  std::string string(const char* field, const std::string& fallback) const {
    const Json* value = find(field);
    if (!value) return fallback;
    if (!value->is_string()) error(field, "must be a string, got ", value->dump());
    return value->get<std::string>();
  }

  // A string that must be one of `supported`; returns its index there.
  size_t choice(const char* field, const std::string& fallback,
                const std::vector<std::string_view>& supported) const {
    std::string value = string(field, fallback);
    for (size_t i = 0; i < supported.size(); ++i) {
      if (supported[i] == value) return i;
    }
    std::string list;
    for (auto option : supported) list += (list.empty() ? "" : ", ") + std::string(option);
    error(field, "has unsupported value \"", value, "\" (supported: ", list, ")");
  }

  template <typename... Parts>
  [[noreturn]] void error(const char* field, const Parts&... parts) const {
    fail(label_, ": field '", prefix_, field, "' ", parts...);
  }

 private:
  const Json& object_;
  const std::string& label_;
  std::string prefix_;
};

constexpr int64_t kMaxDimension = int64_t{1} << 31;  // any width / count beyond this is a typo, not a model

RopeScaling parse_rope_scaling(const Json& value, const std::string& label) {
  RopeScaling scaling;
  if (value.is_null()) return scaling;
  if (!value.is_object()) fail(label, ": field 'rope_scaling' must be an object or null, got ", value.dump());
  FieldReader reader(value, label, "rope_scaling.");
  // Older configs say "type", transformers >= 4.45 rewrites it as "rope_type"; both must agree.
  std::string type = reader.string("type", "");
  std::string rope_type = reader.string("rope_type", "");
  if (!type.empty() && !rope_type.empty() && type != rope_type) {
    reader.error("rope_type", "is \"", rope_type, "\" but 'rope_scaling.type' is \"", type, "\"");
  }
  const char* type_field = type.empty() ? "rope_type" : "type";
  if (type.empty()) type = rope_type;
  if (type != "yarn") {
    reader.error(type_field, "has unsupported value \"", type, "\" (supported: yarn)");
  }
  scaling.yarn = true;
  if (!reader.has("factor")) reader.error("factor", "is missing (YaRN needs the context extension factor)");
  scaling.factor = reader.number("factor", 1.0);
  if (scaling.factor <= 0) reader.error("factor", "must be positive, got ", scaling.factor);
  // Defaults of DeepSeek's YaRN rotary embedding.
  scaling.mscale = reader.number("mscale", 1.0);
  scaling.mscale_all_dim = reader.number("mscale_all_dim", 0.0);
  scaling.beta_fast = reader.number("beta_fast", 32.0);
  scaling.beta_slow = reader.number("beta_slow", 1.0);
  scaling.original_max_position_embeddings =
      reader.integer("original_max_position_embeddings", 4096, 1, kMaxDimension);
  if (scaling.beta_fast <= 0 || scaling.beta_slow <= 0) {
    reader.error(scaling.beta_fast <= 0 ? "beta_fast" : "beta_slow", "must be positive");
  }
  return scaling;
}

Fp8Quantization parse_quantization(const Json& value, const std::string& label) {
  Fp8Quantization quantization;
  if (value.is_null()) return quantization;
  if (!value.is_object()) fail(label, ": field 'quantization_config' must be an object, got ", value.dump());
  FieldReader reader(value, label, "quantization_config.");
  if (!reader.has("quant_method")) reader.error("quant_method", "is missing");
  reader.choice("quant_method", "", {"fp8"});
  reader.choice("fmt", "e4m3", {"e4m3"});
  // Static activation scales would need per-tensor input_scale tensors the engine does not read.
  reader.choice("activation_scheme", "dynamic", {"dynamic"});
  quantization.enabled = true;
  quantization.dynamic_activations = true;
  const Json* block = reader.find("weight_block_size");
  if (!block) reader.error("weight_block_size", "is missing (DeepSeek FP8 checkpoints use [128, 128])");
  if (!block->is_array() || block->size() != 2 || !(*block)[0].is_number_integer() ||
      !(*block)[1].is_number_integer() || (*block)[0].get<int64_t>() != 128 ||
      (*block)[1].get<int64_t>() != 128) {
    reader.error("weight_block_size", "is ", block->dump(), "; only [128, 128] blocks are supported");
  }
  quantization.block_rows = 128;
  quantization.block_cols = 128;
  return quantization;
}

// Relations between fields that the forward pass relies on.
void check_consistency(const ModelConfig& config, const FieldReader& reader) {
  if (config.qk_rope_head_dim % 2 != 0) {
    reader.error("qk_rope_head_dim", "is ", config.qk_rope_head_dim,
                 "; RoPE rotates pairs, so it must be even");
  }
  if (config.first_k_dense_replace > config.num_hidden_layers) {
    reader.error("first_k_dense_replace", "is ", config.first_k_dense_replace,
                 ", more than num_hidden_layers (", config.num_hidden_layers, ")");
  }
  if (config.n_routed_experts == 0) return;  // dense model: the routing fields are unused
  if (config.num_experts_per_tok < 1 || config.num_experts_per_tok > config.n_routed_experts) {
    reader.error("num_experts_per_tok", "is ", config.num_experts_per_tok,
                 "; it must be in [1, n_routed_experts = ", config.n_routed_experts, "]");
  }
  if (config.n_routed_experts % config.n_group != 0) {
    reader.error("n_routed_experts", "(", config.n_routed_experts, ") is not divisible by n_group (",
                 config.n_group, ")");
  }
  if (config.topk_group > config.n_group) {
    reader.error("topk_group", "is ", config.topk_group, ", more than n_group (", config.n_group, ")");
  }
  int64_t experts_per_group = config.n_routed_experts / config.n_group;
  if (config.topk_method != TopkMethod::kGreedy &&
      config.num_experts_per_tok > config.topk_group * experts_per_group) {
    reader.error("num_experts_per_tok", "is ", config.num_experts_per_tok, ", more than the ",
                 config.topk_group * experts_per_group, " experts in the topk_group = ", config.topk_group,
                 " groups routing may choose from");
  }
  // noaux_tc ranks groups by the sum of their two best biased sigmoid scores.
  if (config.topk_method == TopkMethod::kNoauxTc) {
    if (config.scoring_func != ScoringFunc::kSigmoid) {
      reader.error("scoring_func", "must be \"sigmoid\" with topk_method \"noaux_tc\"");
    }
    if (experts_per_group < 2) {
      reader.error("n_group", "is ", config.n_group, ": noaux_tc needs at least 2 experts per group, got ",
                   experts_per_group);
    }
  } else if (config.scoring_func != ScoringFunc::kSoftmax) {
    reader.error("scoring_func",
                 "must be \"softmax\" with topk_method greedy / group_limited_greedy (sigmoid "
                 "scoring is implemented with its correction bias, topk_method \"noaux_tc\")");
  }
}

}  // namespace

double ModelConfig::softmax_scale() const {
  double scale = 1.0 / std::sqrt(static_cast<double>(qk_head_dim()));
  // DeepSeek's attention multiplies by yarn_get_mscale(factor, mscale_all_dim)^2, which is 1 for factor <= 1.
  if (rope_scaling.yarn && rope_scaling.mscale_all_dim != 0.0 && rope_scaling.factor > 1.0) {
    double mscale = 0.1 * rope_scaling.mscale_all_dim * std::log(rope_scaling.factor) + 1.0;
    scale *= mscale * mscale;
  }
  return scale;
}

ModelConfig parse_model_config(const std::string& json_text, const std::string& label) {
  Json root;
  try {
    root = Json::parse(json_text);
  } catch (const Json::exception& error) {  // parse_error, or out_of_range for a number like 1e400
    fail(label, ": not valid JSON (", error.what(), ")");
  }
  if (!root.is_object()) fail(label, ": must be a JSON object");
  FieldReader reader(root, label);

  ModelConfig config;
  if (!reader.has("model_type")) {
    reader.error("model_type", "is missing (expected deepseek_v2 or deepseek_v3)");
  }
  size_t model_type = reader.choice("model_type", "", {"deepseek_v2", "deepseek_v3"});
  config.model_type = model_type == 0 ? "deepseek_v2" : "deepseek_v3";
  const ModelTypeDefaults& defaults = model_type == 0 ? kDeepseekV2Defaults : kDeepseekV3Defaults;

  reader.choice("hidden_act", "silu", {"silu"});
  if (reader.boolean("attention_bias", false)) {
    reader.error("attention_bias", "is true; DeepSeek MLA has no biases");
  }

  config.vocab_size = reader.integer("vocab_size", defaults.vocab_size, 1, kMaxDimension);
  config.hidden_size = reader.integer("hidden_size", defaults.hidden_size, 1, kMaxDimension);
  config.intermediate_size =
      reader.integer("intermediate_size", defaults.intermediate_size, 1, kMaxDimension);
  config.moe_intermediate_size =
      reader.integer("moe_intermediate_size", defaults.moe_intermediate_size, 1, kMaxDimension);
  config.num_hidden_layers = reader.small_integer("num_hidden_layers", defaults.num_hidden_layers, 1);
  config.num_nextn_predict_layers =
      model_type == 0
          ? 0
          : reader.small_integer("num_nextn_predict_layers", defaults.num_nextn_predict_layers, 0);
  config.num_attention_heads = reader.small_integer("num_attention_heads", defaults.num_attention_heads, 1);
  // MLA ignores it (every head reads the one latent), but the class defaults it to the head count.
  config.num_key_value_heads = reader.small_integer("num_key_value_heads", config.num_attention_heads, 1);
  config.n_shared_experts = reader.small_integer("n_shared_experts", defaults.n_shared_experts, 0);
  config.n_routed_experts = reader.small_integer("n_routed_experts", defaults.n_routed_experts, 0);
  config.routed_scaling_factor = reader.number("routed_scaling_factor", defaults.routed_scaling_factor);
  if (config.routed_scaling_factor <= 0) reader.error("routed_scaling_factor", "must be positive");
  config.kv_lora_rank = reader.integer("kv_lora_rank", 512, 1, kMaxDimension);
  // Present and null means "no query compression" (q_proj); absent means the class default.
  if (reader.is_null("q_lora_rank")) {
    config.q_lora_rank.reset();
  } else {
    config.q_lora_rank = reader.integer("q_lora_rank", 1536, 1, kMaxDimension);
  }
  config.qk_rope_head_dim = reader.integer("qk_rope_head_dim", 64, 2, kMaxDimension);
  config.qk_nope_head_dim = reader.integer("qk_nope_head_dim", 128, 1, kMaxDimension);
  config.v_head_dim = reader.integer("v_head_dim", 128, 1, kMaxDimension);
  config.topk_method = static_cast<TopkMethod>(
      reader.choice("topk_method", defaults.topk_method, {"greedy", "group_limited_greedy", "noaux_tc"}));
  config.n_group = reader.small_integer("n_group", defaults.n_group, 1);
  config.topk_group = reader.small_integer("topk_group", defaults.topk_group, 1);
  config.num_experts_per_tok = reader.small_integer("num_experts_per_tok", defaults.num_experts_per_tok, 0);
  config.moe_layer_freq = reader.small_integer("moe_layer_freq", 1, 1);
  config.first_k_dense_replace =
      reader.small_integer("first_k_dense_replace", defaults.first_k_dense_replace, 0);
  config.norm_topk_prob = reader.boolean("norm_topk_prob", defaults.norm_topk_prob);
  config.scoring_func =
      static_cast<ScoringFunc>(reader.choice("scoring_func", defaults.scoring_func, {"softmax", "sigmoid"}));
  config.max_position_embeddings =
      reader.integer("max_position_embeddings", defaults.max_position_embeddings, 1, int64_t{1} << 40);
  config.rms_norm_eps = reader.number("rms_norm_eps", 1e-6);
  if (config.rms_norm_eps <= 0) reader.error("rms_norm_eps", "must be positive");
  config.rope_theta = reader.number("rope_theta", 10000.0);
  if (config.rope_theta <= 0) reader.error("rope_theta", "must be positive");
  config.rope_scaling = parse_rope_scaling(root.value("rope_scaling", Json()), label);
  config.quantization = parse_quantization(root.value("quantization_config", Json()), label);
  config.tie_word_embeddings = reader.boolean("tie_word_embeddings", false);
  // Explicitly null: the model has no such token (-1). Not checked against vocab_size: the tiny test models
  // keep DeepSeek-V2's ids (100000) with a 512-token vocabulary.
  config.bos_token_id = reader.is_null("bos_token_id")
                            ? -1
                            : reader.integer("bos_token_id", defaults.bos_token_id, 0, kMaxDimension);
  config.eos_token_id = reader.is_null("eos_token_id")
                            ? -1
                            : reader.integer("eos_token_id", defaults.eos_token_id, 0, kMaxDimension);
  check_consistency(config, reader);
  return config;
}

ModelConfig load_model_config(const std::string& config_json_path) {
  std::ifstream stream(config_json_path, std::ios::binary);
  if (!stream) fail("cannot open ", config_json_path, " (every hub model folder has a config.json)");
  std::ostringstream contents;
  contents << stream.rdbuf();
  return parse_model_config(contents.str(), config_json_path);
}

}  // namespace dsinfer
