// Routed experts: every token runs through its top-k experts' gated MLPs and the outputs are summed with the
// routing weights; optionally with the layer's shared experts (an ordinary gated MLP) in the same op.
#pragma once

#include <vector>

#include "ops/expert_order.h"
#include "ops/linear.h"

namespace dsinfer::ops {

// A gated MLP: down_proj(silu(gate_proj(x)) * up_proj(x)). Under tensor parallelism gate/up hold a slice of
// the intermediate dim I (rows) and down_proj the matching slice of its input dim (columns).
struct MlpWeights {
  LinearWeight gate_proj;  // [I, H]
  LinearWeight up_proj;    // [I, H]
  LinearWeight down_proj;  // [H, I]
};

// input         [T, H]      activation dtype (the post-attention normed hidden state)
// topk_ids      [T, top_k]  I32 expert ids in [0, experts.size())
// topk_weights  [T, top_k]  F32 routing weights (routed_scaling_factor already applied)
// experts       one MlpWeights per routed expert (all with the same shapes and dtypes); a backend may require
//               them to live in one allocation (the CUDA loader stacks them) but the CPU path does not
// output        [T, H]      activation dtype; ACCUMULATED: output[t] += sum_j topk_weights[t][j] *
//               expert_{topk_ids[t][j]}(input[t]), so the caller passes the shared experts' output in it
// quantize_activations: W8A8 emulation for FP8 experts (both the gate/up input and the down input), as linear.
void moe_experts(const Tensor& input, const Tensor& topk_ids, const Tensor& topk_weights,
                 const std::vector<MlpWeights>& experts, Tensor& output, bool quantize_activations = false);

// The same with the assignments already sorted by expert (ops::moe_routing's `order` for these topk_ids,
// [E + 1] and [T * top_k] with E = experts.size()): CUDA runs no sort of its own; the CPU, whose loop is per
// token, only checks the order's shapes.
void moe_experts(const Tensor& input, const Tensor& topk_ids, const Tensor& topk_weights, const ExpertOrder& order,
                 const std::vector<MlpWeights>& experts, Tensor& output, bool quantize_activations = false);

// The MoE layer's whole MLP: output = shared_experts(input) + the routed sum above (output OVERWRITTEN).
// shared_experts is a gated MLP of any intermediate size (n_shared_experts * moe_intermediate_size, its TP
// slice). The CPU runs silu_gated_linear + linear and then the routed experts; CUDA at decode sizes (up to 8
// tokens) runs the shared experts' CTAs inside the routed experts' two GEMM launches.
// input_is_final: the op right before this one on the stream is ops::moe_route of this `input` (whose kernels let
// the next op start only once its input is final; see ops/moe_routing.h). CUDA then runs the shared experts'
// first GEMM without waiting for the routing to end. Leave it false when anything else ran in between.
void moe_experts(const Tensor& input, const Tensor& topk_ids, const Tensor& topk_weights, const ExpertOrder& order,
                 const std::vector<MlpWeights>& experts, const MlpWeights& shared_experts, Tensor& output,
                 bool quantize_activations = false, bool input_is_final = false);

}  // namespace dsinfer::ops
