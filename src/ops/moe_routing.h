// MoE routing: which experts each token goes to, and with what weight (DeepSeek V2 / V3, all three methods).
#pragma once

#include "core/tensor.h"
#include "model/config.h"  // TopkMethod, ScoringFunc (header-only enums)
#include "ops/expert_order.h"
#include "ops/linear.h"

namespace dsinfer::ops {

struct MoeRoutingParams {
  ScoringFunc scoring_func = ScoringFunc::kSoftmax;
  TopkMethod topk_method = TopkMethod::kGreedy;
  int num_experts = 0;      // E (n_routed_experts)
  int top_k = 0;            // num_experts_per_tok
  int num_groups = 1;       // n_group; E must be a multiple
  int top_k_groups = 1;     // topk_group
  bool normalize_top_k = false;        // norm_topk_prob (only when top_k > 1)
  double routed_scaling_factor = 1.0;  // applied to the final weights
};

// The exact recipe (matching the reference's float64 math up to float32 rounding):
//   scores = softmax(logits) or sigmoid(logits)                                   [T, E]
//   choice = scores (+ correction_bias for sigmoid scoring)                       [T, E]
//   group score: sigmoid -> sum of the two largest `choice` values in the group,
//                softmax -> the largest `choice` value in the group               [T, num_groups]
//   group_limited_greedy / noaux_tc: keep the top_k_groups best groups, other experts' choice = -inf
//   ids     = top_k experts by choice (ties: the lower index wins), in descending choice order
//   weights = scores[ids] (unbiased), / (sum + 1e-20) if normalize_top_k, x routed_scaling_factor
//
// router_logits   [T, E] F32 (gate.weight projection of the normed hidden state)
// correction_bias [E] F32, or undefined (e_score_correction_bias; required for sigmoid scoring)
// topk_ids        [T, top_k] I32
// topk_weights    [T, top_k] F32
// order           optional: also sorts the T * top_k assignments by expert into it (see expert_order.h; its
//                 per-assignment tensors exactly [T * top_k]). On CUDA, up to 1024 assignments route and sort
//                 in one kernel; the offsets, tiles and active list are exact, rows within an expert come in
//                 no particular order. On the CPU rows within an expert keep assignment order.
void moe_routing(const Tensor& router_logits, const Tensor& correction_bias, const MoeRoutingParams& params,
                 Tensor& topk_ids, Tensor& topk_weights, ExpertOrder* order = nullptr);

// The router projection and the routing in one op: router_logits = hidden x router.weight^T, then moe_routing
// on them (same outputs, same order). hidden [T, K] in the activation dtype; router [E, K]; router_logits
// [T, E] F32 (written, so callers and tests can read them); the rest as moe_routing. On the CPU it is exactly
// linear + moe_routing. On CUDA, decode-sized calls (BF16 hidden and router weight, an order, at most 8 tokens,
// a router of at most 256 KiB: DeepSeek-V2-Lite's 64 x 2048) run as one kernel, the weights fetched before the
// previous kernel ends; everything else runs linear + moe_routing.
// Launch order (CUDA): the routing kernels let the kernels after them start only once their own wait on the
// previous kernel has returned, so `hidden` is final before any later op's kernels start (ops::moe_experts'
// input_is_final relies on it).
void moe_route(const Tensor& hidden, const LinearWeight& router, const Tensor& correction_bias,
               const MoeRoutingParams& params, Tensor& router_logits, Tensor& topk_ids, Tensor& topk_weights,
               ExpertOrder* order = nullptr);

}  // namespace dsinfer::ops
