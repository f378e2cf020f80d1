#include "ops/moe_routing.h"

#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cuda/cuda_ops.h"
#include "ops/dispatch.h"

namespace dsinfer::ops {

namespace {

// Throws, naming op_name, unless the routing parameters and tensors fit together; returns their device.
Device check_routing(const char* op_name, const Tensor& router_logits, const Tensor& correction_bias,
                     const MoeRoutingParams& params, const Tensor& topk_ids, const Tensor& topk_weights,
                     const ExpertOrder* order) {
  const int experts = params.num_experts;
  DSINFER_CHECK(experts > 0 && params.top_k > 0 && params.top_k <= experts, "ops::", op_name, ": top_k ",
                params.top_k, " must be in [1, ", experts, "]");
  DSINFER_CHECK(params.num_groups > 0 && experts % params.num_groups == 0, "ops::", op_name, ": ", experts,
                " experts do not split into ", params.num_groups, " groups");
  bool grouped = params.topk_method != TopkMethod::kGreedy;
  if (grouped) {
    DSINFER_CHECK(params.top_k_groups >= 1 && params.top_k_groups <= params.num_groups &&
                      params.top_k_groups * (experts / params.num_groups) >= params.top_k,
                  "ops::", op_name, ": ", params.top_k_groups, " of ", params.num_groups,
                  " groups cannot supply top_k = ", params.top_k, " experts");
  }
  if (params.scoring_func == ScoringFunc::kSigmoid) {
    DSINFER_CHECK(correction_bias.defined() && correction_bias.shape() == Shape({experts}) &&
                      correction_bias.dtype() == DType::kF32,
                  "ops::", op_name, ": sigmoid scoring needs an F32 correction bias [", experts, "]");
    DSINFER_CHECK(experts / params.num_groups >= 2, "ops::", op_name,
                  ": sigmoid group scores sum the top 2 experts of a group; groups have ",
                  experts / params.num_groups);
  }
  DSINFER_CHECK(router_logits.rank() == 2 && router_logits.dim(1) == experts && router_logits.dtype() == DType::kF32,
                "ops::", op_name, ": router_logits must be F32 [T, ", experts, "], got ", router_logits.describe());
  Shape expected{router_logits.dim(0), params.top_k};
  DSINFER_CHECK(topk_ids.shape() == expected && topk_ids.dtype() == DType::kI32, "ops::", op_name,
                ": topk_ids must be I32 ", shape_to_string(expected), ", got ", topk_ids.describe());
  DSINFER_CHECK(topk_weights.shape() == expected && topk_weights.dtype() == DType::kF32, "ops::", op_name,
                ": topk_weights must be F32 ", shape_to_string(expected), ", got ", topk_weights.describe());
  const Device device = common_device(op_name, {&router_logits, &correction_bias, &topk_ids, &topk_weights});
  if (order != nullptr) order->check(op_name, experts, topk_ids.numel(), device);
  return device;
}

// The CPU routing of both ops (the order, when asked for, keeps assignment order within an expert).
void route_on_cpu(const Tensor& router_logits, const Tensor& correction_bias, const MoeRoutingParams& params,
                  Tensor& topk_ids, Tensor& topk_weights, ExpertOrder* order) {
  cpu::moe_routing(router_logits, correction_bias, params, topk_ids, topk_weights);
  if (order != nullptr) cpu::sort_by_expert(topk_ids, params.num_experts, *order);
}

}  // namespace

void moe_routing(const Tensor& router_logits, const Tensor& correction_bias, const MoeRoutingParams& params,
                 Tensor& topk_ids, Tensor& topk_weights, ExpertOrder* order) {
  const Device device =
      check_routing("moe_routing", router_logits, correction_bias, params, topk_ids, topk_weights, order);
  if (device == Device::kCpu) {
    route_on_cpu(router_logits, correction_bias, params, topk_ids, topk_weights, order);
  } else {
    cuda::moe_routing(router_logits, correction_bias, params, topk_ids, topk_weights, order);
  }
}

void moe_route(const Tensor& hidden, const LinearWeight& router, const Tensor& correction_bias,
               const MoeRoutingParams& params, Tensor& router_logits, Tensor& topk_ids, Tensor& topk_weights,
               ExpertOrder* order) {
  check_linear_shapes("moe_route", hidden, router, router_logits);
  const Device device =
      check_routing("moe_route", router_logits, correction_bias, params, topk_ids, topk_weights, order);
  DSINFER_CHECK(common_device("moe_route", {&hidden, &router.weight, &router.scale_inv, &router_logits}) == device,
                "ops::moe_route: hidden ", hidden.describe(), " and router ", router.weight.describe(),
                " must be on the device of router_logits ", router_logits.describe());
  if (device == Device::kCpu) {
    cpu::linear(hidden, router, router_logits, /*quantize_activations=*/false);
    route_on_cpu(router_logits, correction_bias, params, topk_ids, topk_weights, order);
  } else {
    cuda::moe_route(hidden, router, correction_bias, params, router_logits, topk_ids, topk_weights, order);
  }
}

}  // namespace dsinfer::ops
