#include "model/deepseek.h"

#include <algorithm>

#include "core/error.h"
#include "model/rope_table.h"
#include "ops/add_rms_norm.h"
#include "ops/copy.h"
#include "ops/gated_linear.h"
#include "ops/gather_rows.h"
#include "ops/linear.h"
#include "ops/linear_pair.h"
#include "ops/mla_cache_write.h"
#include "ops/mla_decode_attention.h"
#include "ops/mla_prefill_attention.h"
#include "ops/moe_experts.h"
#include "ops/rms_norm.h"

namespace dsinfer {

DeepseekModel::DeepseekModel(const ModelConfig& config, ModelWeights weights, Communicator& communicator,
                             const DeepseekOptions& options)
    : config_(config),
      weights_(std::move(weights)),
      communicator_(communicator),
      options_(options),
      local_heads_(config.num_attention_heads / communicator.size()),
      softmax_scale_(config.softmax_scale()) {
  routing_.scoring_func = config.scoring_func;
  routing_.topk_method = config.topk_method;
  routing_.num_experts = config.n_routed_experts;
  routing_.top_k = config.num_experts_per_tok;
  routing_.num_groups = config.n_group;
  routing_.top_k_groups = config.topk_group;
  routing_.normalize_top_k = config.norm_topk_prob;
  routing_.routed_scaling_factor = config.routed_scaling_factor;

  Tensor host_rope = build_rope_table(config, options.max_positions);
  rope_table_ = host_rope;
  if (options.device != Device::kCpu) {
    rope_table_ = Tensor::empty(host_rope.shape(), DType::kF32, options.device);
    ops::copy(host_rope, rope_table_);
  }

  const int64_t rows = options.max_tokens, hidden = config.hidden_size, tp = communicator.size();
  const DType act = options.activation_dtype;
  auto buffer = [&](int64_t width, DType dtype) { return Tensor::empty({rows, width}, dtype, options.device); };
  Workspace& w = workspace_;
  w.residual = buffer(hidden, act);
  w.normed = buffer(hidden, act);
  if (config.q_lora_rank) w.q_lora = buffer(*config.q_lora_rank, act);
  w.query = buffer(local_heads_ * config.qk_head_dim(), act);
  w.kv_a = buffer(config.kv_cache_width(), act);
  w.attention = buffer(local_heads_ * config.v_head_dim, act);
  w.attention_out = buffer(hidden, act);
  w.mlp_out = buffer(hidden, act);
  int64_t intermediate = 0;  // the dense MLPs' (ops::moe_experts keeps the shared experts' own temporaries)
  for (int layer = 0; layer < config.num_hidden_layers; ++layer) {
    if (!config.is_moe_layer(layer)) intermediate = std::max(intermediate, config.intermediate_size / tp);
  }
  w.activation = buffer(std::max<int64_t>(intermediate, 1), act);
  if (config.n_routed_experts > 0) {
    w.router_logits = buffer(config.n_routed_experts, DType::kF32);
    w.topk_ids = buffer(config.num_experts_per_tok, DType::kI32);
    w.topk_weights = buffer(config.num_experts_per_tok, DType::kF32);
    w.expert_order = ops::ExpertOrder::allocate(config.n_routed_experts, rows * config.num_experts_per_tok,
                                                options.device);
  }
  if (config.n_routed_experts > 0 && config.n_shared_experts == 0) {  // routed experts accumulate onto zeros
    w.zeros = buffer(hidden, act);
    Tensor host_zeros = Tensor::zeros(w.zeros.shape(), act);
    ops::copy(host_zeros, w.zeros);
  }
}

Tensor DeepseekModel::forward(const StepInputs& inputs, KvCache& cache, std::vector<Tensor>* layer_hidden_states) {
  const int tokens = inputs.num_tokens;
  const double epsilon = config_.rms_norm_eps;
  Workspace& w = workspace_;
  Tensor residual = rows(w.residual, tokens), normed = rows(w.normed, tokens);
  Tensor attention_out = rows(w.attention_out, tokens), mlp_out = rows(w.mlp_out, tokens);
  if (layer_hidden_states) layer_hidden_states->clear();

  ops::gather_rows(weights_.embed_tokens, inputs.token_ids, residual);  // [T, H]
  capture(residual, layer_hidden_states);
  for (int layer = 0; layer < config_.num_hidden_layers; ++layer) {
    const LayerWeights& weights = weights_.layers[layer];
    if (layer == 0) {
      ops::rms_norm(residual, weights.input_layernorm, epsilon, normed);  // [T, H]
    } else {  // residual += previous layer's MLP output; then this layer's input norm
      ops::add_rms_norm(residual, mlp_out, weights.input_layernorm, epsilon, normed);
      capture(residual, layer_hidden_states);
    }
    attention(layer, inputs, cache, tokens);  // attention_out [T, H], partial under TP
    communicator_.all_reduce_sum(attention_out);
    ops::add_rms_norm(residual, attention_out, weights.post_attention_layernorm, epsilon, normed);
    if (weights.is_moe) {
      moe(weights.moe, tokens);  // [T, H] partial
    } else {
      dense_mlp(weights.mlp, normed, mlp_out, tokens);
    }
    communicator_.all_reduce_sum(mlp_out);
  }
  ops::add_rms_norm(residual, mlp_out, weights_.norm, epsilon, normed);  // final norm, [T, H]
  capture(residual, layer_hidden_states);

  // Only the rows that need logits go through the lm_head.
  const int64_t logit_rows = inputs.num_logit_rows, vocab = config_.vocab_size;
  if (!w.logits.defined() || w.logits.dim(0) < logit_rows) {
    w.logits = Tensor::empty({std::max<int64_t>(logit_rows, 1), vocab}, DType::kF32, options_.device);
  }
  Tensor selected = normed;  // [R, H]
  if (!inputs.logits_of_every_row) {
    selected = rows(w.attention_out, static_cast<int>(logit_rows));  // reused as the gathered rows
    ops::gather_rows(normed, inputs.logit_rows, selected);
  }
  Tensor logits = rows(w.logits, static_cast<int>(logit_rows));  // [R, vocab] F32
  ops::linear(selected, weights_.lm_head, logits);
  return logits;
}

void DeepseekModel::attention(int layer, const StepInputs& inputs, KvCache& cache, int tokens) {
  const AttentionWeights& weights = weights_.layers[layer].attention;
  const bool fp8 = options_.fp8_activations;
  const int64_t heads = local_heads_, qk = config_.qk_head_dim(), v = config_.v_head_dim;
  Workspace& w = workspace_;
  Tensor normed = rows(w.normed, tokens);
  Tensor query = rows(w.query, tokens);  // [T, heads * qk]
  Tensor kv_a = rows(w.kv_a, tokens);    // [T, kv_lora_rank + qk_rope]
  // The projections that read `normed` run as one pair (one pass over both weights at decode sizes).
  if (config_.q_lora_rank) {
    Tensor q_lora = rows(w.q_lora, tokens);  // [T, q_lora_rank]
    ops::linear_pair(normed, weights.q_a_proj, weights.kv_a_proj_with_mqa, q_lora, kv_a, fp8);
    ops::rms_norm(q_lora, weights.q_a_layernorm, config_.rms_norm_eps, q_lora);
    ops::linear(q_lora, weights.q_b_proj, query, fp8);
  } else {
    ops::linear_pair(normed, weights.q_proj, weights.kv_a_proj_with_mqa, query, kv_a, fp8);
  }
  Tensor query_heads = query.reshape({tokens, heads, qk});  // [T, heads, qk_nope + qk_rope]

  Tensor& kv_cache = cache.layer(layer);  // [pages, page_size, kv_lora_rank + qk_rope]
  // Under W8A8 emulation the cache holds the latent as kv_b_proj's quantized input sees it (both attention paths).
  // The query's rope is applied here too (one kernel with the cache write on CUDA).
  ops::mla_cache_write(kv_a, weights.kv_a_layernorm, config_.rms_norm_eps, inputs.positions, rope_table_, inputs.slots,
                       kv_cache, fp8 && weights.kv_b_proj.is_fp8(), &query_heads);

  Tensor attention = rows(w.attention, tokens).reshape({tokens, heads, v});  // [T, heads, v_head_dim]
  const int decode_rows = inputs.num_decode_tokens;
  if (decode_rows > 0) {  // absorbed, straight from the latent pages
    Tensor decode_out = attention.slice_rows(0, decode_rows);
    ops::mla_decode_attention(query_heads.slice_rows(0, decode_rows), kv_cache, weights.w_uk, weights.w_uv,
                              inputs.decode, softmax_scale_, decode_out);
  }
  if (tokens > decode_rows) {  // un-absorbed: latents expanded through kv_b_proj
    Tensor prefill_out = attention.slice_rows(decode_rows, tokens);
    ops::mla_prefill_attention(query_heads.slice_rows(decode_rows, tokens), kv_cache, weights.kv_b_proj,
                               inputs.prefill, softmax_scale_, prefill_out, fp8);
  }
  Tensor attention_out = rows(w.attention_out, tokens);  // [T, H]
  ops::linear(attention.reshape({tokens, heads * v}), weights.o_proj, attention_out, fp8);
}

void DeepseekModel::dense_mlp(const ops::MlpWeights& mlp, const Tensor& input, Tensor& output, int tokens) {
  const bool fp8 = options_.fp8_activations;
  const int64_t intermediate = mlp.gate_proj.out_features();
  Tensor activation = scratch(workspace_.activation, tokens, intermediate);  // [T, I] = silu(gate) * up
  ops::silu_gated_linear(input, mlp.gate_proj, mlp.up_proj, activation, fp8);
  ops::linear(activation, mlp.down_proj, output, fp8);  // [T, H]
}

void DeepseekModel::moe(const MoeWeights& moe, int tokens) {
  Workspace& w = workspace_;
  Tensor normed = rows(w.normed, tokens), mlp_out = rows(w.mlp_out, tokens);
  Tensor router_logits = rows(w.router_logits, tokens);  // [T, experts] F32
  Tensor topk_ids = rows(w.topk_ids, tokens), topk_weights = rows(w.topk_weights, tokens);  // [T, top_k]
  // The router projection, routing and the sort of the assignments by expert (on CUDA at decode sizes one
  // kernel), so the expert GEMMs need no sort of their own.
  ops::ExpertOrder order = w.expert_order.first_assignments(topk_ids.numel());
  ops::moe_route(normed, moe.router, moe.score_correction_bias, routing_, router_logits, topk_ids, topk_weights,
                 &order);
  if (moe.has_shared_experts) {  // mlp_out = shared experts + routed experts (one op: on CUDA, the same launches)
    ops::moe_experts(normed, topk_ids, topk_weights, order, moe.experts, moe.shared_experts, mlp_out,
                     options_.fp8_activations, /*input_is_final=*/true);  // moe_route of `normed` came right before
  } else {  // mlp_out = the routed experts' weighted outputs, accumulated onto zeros
    ops::copy(rows(w.zeros, tokens), mlp_out);
    ops::moe_experts(normed, topk_ids, topk_weights, order, moe.experts, mlp_out, options_.fp8_activations);
  }
}

Tensor DeepseekModel::scratch(const Tensor& buffer, int64_t row_count, int64_t width) const {
  return buffer.reshape({-1}).slice_rows(0, row_count * width).reshape({row_count, width});
}

void DeepseekModel::capture(const Tensor& residual, std::vector<Tensor>* layer_hidden_states) const {
  if (!layer_hidden_states) return;
  Tensor as_f32 = residual;
  if (residual.dtype() != DType::kF32) {
    as_f32 = Tensor::empty(residual.shape(), DType::kF32, residual.device());
    ops::cast(residual, as_f32);
  }
  Tensor host = Tensor::empty(residual.shape(), DType::kF32);
  ops::copy(as_f32, host);
  layer_hidden_states->push_back(host);
}

}  // namespace dsinfer
