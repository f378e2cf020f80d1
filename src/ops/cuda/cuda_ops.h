// CUDA backend declarations, one per op (definitions in cuda/<op>.cu by the CUDA backend; when dsinfer is
// built without CUDA, cuda/unavailable.cpp defines each to throw). Same contracts as the ops/<op>.h headers.
// Callers go through the dispatching ops in ops/<op>.h, which check devices; these assume one device
// (except cuda::copy, which takes any pair of devices with at least one CUDA side).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/tensor.h"
#include "ops/attention_batch.h"
#include "ops/linear.h"
#include "ops/moe_experts.h"
#include "ops/moe_routing.h"

namespace dsinfer::ops::cuda {

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
                 Tensor& topk_ids, Tensor& topk_weights, ExpertOrder* order);  // order may be null
void moe_route(const Tensor& hidden, const LinearWeight& router, const Tensor& correction_bias,
               const MoeRoutingParams& params, Tensor& router_logits, Tensor& topk_ids, Tensor& topk_weights,
               ExpertOrder* order);  // order may be null
void moe_experts(const Tensor& input, const Tensor& topk_ids, const Tensor& topk_weights, const ExpertOrder* order,
                 const std::vector<MlpWeights>& experts, const MlpWeights* shared_experts, Tensor& output,
                 bool quantize_activations,
                 bool input_is_final);  // order null: sorts; shared_experts null: none (accumulates)
void mla_cache_write(const Tensor& kv_a, const Tensor& norm_weight, double epsilon, const Tensor& positions,
                     const Tensor& cos_sin, const Tensor& slots, Tensor& kv_cache, bool quantize_latent,
                     Tensor* rope_query);  // rope_query may be null
void mla_prefill_attention(const Tensor& q, const Tensor& kv_cache, const LinearWeight& kv_b_proj,
                           const AttentionBatch& batch, double softmax_scale, Tensor& output,
                           bool quantize_activations);
void mla_decode_attention(const Tensor& q, const Tensor& kv_cache, const Tensor& w_uk, const Tensor& w_uv,
                          const AttentionBatch& batch, double softmax_scale, Tensor& output);
void copy(const Tensor& source, Tensor& destination);
Tensor empty_pinned(Shape shape, DType dtype);         // page-locked host memory (ops::empty_staging)
void upload(const Tensor& staged, Tensor& destination);  // see ops::upload
void wait_for_device();                                // the compute stream
void cast(const Tensor& source, Tensor& destination);
void fill_random(Tensor& tensor, uint64_t seed, float low, float high);
void initialize_device();  // see ops/device.h
void argmax_rows(const Tensor& logits, Tensor& ids);  // see ops/argmax_rows.h
void sample_tokens(const Tensor& logits, const Tensor& temperature, const Tensor& top_k, const Tensor& top_p,
                   const Tensor& seeds, Tensor& ids);  // see ops/sample_tokens.h

// CUDA graphs of whole decode steps (model/decode_graphs.h). Capture records the ops launched on the compute
// stream between begin and end; a replay re-runs them reading whatever the captured buffers then hold.
class CapturedGraph;
void begin_graph_capture();
std::shared_ptr<CapturedGraph> end_graph_capture();
void abort_graph_capture();  // after an op threw during capture: discard it and leave the stream usable
void replay_graph(const CapturedGraph& graph);
// Changes whenever the ops' own scratch memory moves; graphs captured under another value must be redone.
uint64_t graph_memory_generation();

}  // namespace dsinfer::ops::cuda
