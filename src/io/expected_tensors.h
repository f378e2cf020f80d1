// The tensors a DeepSeek V2 / V3 hub checkpoint must hold for a given config.json, under their hub names,
// with shapes and allowed dtypes: what `dsinfer inspect` checks and what the model loader asks for.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "model/config.h"

namespace dsinfer {

struct ExpectedTensor {
  std::string name;  // hub name, e.g. "model.layers.3.mlp.experts.17.down_proj.weight"
  Shape shape;
  std::vector<DType> dtypes;  // allowed; the first is what DeepSeek ships
  int layer = -1;             // decoder layer (-1: embedding, final norm, lm_head)
  int expert = -1;            // routed expert within the layer (-1: not a routed expert)
  bool mtp = false;  // in a multi-token-prediction layer: checked only when the checkpoint has that layer
  bool embedding = false;  // a lookup table: a token reads one row of it, so it is not "active"
  // Linears of an FP8 config may be stored as F8_E4M3; then "<name>_scale_inv" (F32, this shape:
  // [ceil(out / 128), ceil(in / 128)]) must be present too, and absent otherwise. Unset: never FP8.
  std::optional<Shape> fp8_scale_shape;
};

// In checkpoint order: embedding, layers 0..N-1 (attention, then dense MLP or MoE), final norm, lm_head
// (absent when tie_word_embeddings), then the num_nextn_predict_layers MTP layers.
std::vector<ExpectedTensor> expected_tensors(const ModelConfig& config);

// "x.weight" -> "x.weight_scale_inv": the FP8 block scales that go with a weight.
std::string fp8_scale_name(const std::string& weight_name);

struct ParameterCount {
  int64_t total = 0;  // every stored parameter (FP8 block scales excluded), MTP layers included
  int64_t mtp = 0;    // of which in MTP layers
  // Main model only, as DeepSeek counts it (36.6B for V3): every weight a token is multiplied by, so neither
  // the embedding table nor the routed experts it is not sent to (num_experts_per_tok of them per MoE layer).
  int64_t active_per_token = 0;
};

// Sums parameters tensor by tensor, keeping routed experts apart so that active_per_token counts top-k of
// them.
class ParameterCounter {
 public:
  // `tensor` null: a stored tensor the model does not use (counted in the total only).
  void add(const ExpectedTensor* tensor, int64_t parameters);
  ParameterCount result(const ModelConfig& config) const;

 private:
  ParameterCount count_;
  std::map<int, int64_t> routed_per_layer_;  // main layers: parameters of all routed experts
};

// What a complete checkpoint for `config` holds; MTP layers counted when `with_mtp`.
ParameterCount count_parameters(const std::vector<ExpectedTensor>& expected, const ModelConfig& config,
                                bool with_mtp);

}  // namespace dsinfer
