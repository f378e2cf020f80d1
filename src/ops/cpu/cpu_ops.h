// CPU backend: float32 activations, one function per op, each in cpu/<op>.cpp.
// Callers go through the dispatching ops in ops/<op>.h, which check devices; these assume one device.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "ops/attention_batch.h"
#include "ops/linear.h"
#include "ops/moe_experts.h"
#include "ops/moe_routing.h"

namespace dsinfer::ops::cpu {

void linear(const Tensor& input, const LinearWeight& weight, Tensor& output, bool quantize_activations);
void linear_pair(const Tensor& input, const LinearWeight& first, const LinearWeight& second, Tensor& first_output,
                 Tensor& second_output, bool quantize_activations);
void silu_gated_linear(const Tensor& input, const LinearWeight& gate, const LinearWeight& up, Tensor& output,
                       bool quantize_activations);
void quantize_fp8_per_token_group(const Tensor& input, Tensor& output, Tensor& scales);
void gather_rows(const Tensor& source, const Tensor& indices, Tensor& output);
void rms_norm(const Tensor& input, const Tensor& weight, double epsilon, Tensor& output);
void add_rms_norm(Tensor& residual, const Tensor& addend, const Tensor& weight, double epsilon, Tensor& output);
void rope(Tensor& x, const Tensor& positions, const Tensor& cos_sin);
void silu_and_mul(const Tensor& gate, const Tensor& up, Tensor& output);
void moe_routing(const Tensor& router_logits, const Tensor& correction_bias, const MoeRoutingParams& params,
                 Tensor& topk_ids, Tensor& topk_weights);
// Counting sort of the assignments by expert (ids outside [0, experts) get slot position -1), rows of one
// expert in assignment order; lives in cpu/moe_routing.cpp.
void sort_by_expert(const Tensor& topk_ids, int experts, ExpertOrder& order);
void moe_experts(const Tensor& input, const Tensor& topk_ids, const Tensor& topk_weights,
                 const std::vector<MlpWeights>& experts, Tensor& output, bool quantize_activations);
void mla_cache_write(const Tensor& kv_a, const Tensor& norm_weight, double epsilon, const Tensor& positions,
                     const Tensor& cos_sin, const Tensor& slots, Tensor& kv_cache, bool quantize_latent);
void mla_prefill_attention(const Tensor& q, const Tensor& kv_cache, const LinearWeight& kv_b_proj,
                           const AttentionBatch& batch, double softmax_scale, Tensor& output,
                           bool quantize_activations);
void mla_decode_attention(const Tensor& q, const Tensor& kv_cache, const Tensor& w_uk, const Tensor& w_uv,
                          const AttentionBatch& batch, double softmax_scale, Tensor& output);
void copy(const Tensor& source, Tensor& destination);
void cast(const Tensor& source, Tensor& destination);
void fill_random(Tensor& tensor, uint64_t seed, float low, float high);

void argmax_rows(const Tensor& logits, Tensor& ids);
void sample_tokens(const Tensor& logits, const Tensor& temperature, const Tensor& top_k, const Tensor& top_p,
                   const Tensor& seeds, Tensor& ids);

}  // namespace dsinfer::ops::cpu
