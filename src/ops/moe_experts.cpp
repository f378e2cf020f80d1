#include "ops/moe_experts.h"

#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cuda/cuda_ops.h"
#include "ops/dispatch.h"
#include "ops/gated_linear.h"

namespace dsinfer::ops {

namespace {

// Every overload: `order` is null when the backend sorts the assignments itself; `shared` null without shared
// experts (output accumulates), else output = shared(input) + the routed sum.
void run_moe_experts(const Tensor& input, const Tensor& topk_ids, const Tensor& topk_weights, const ExpertOrder* order,
                     const std::vector<MlpWeights>& experts, const MlpWeights* shared, Tensor& output,
                     bool quantize_activations, bool input_is_final) {
  DSINFER_CHECK(!experts.empty(), "ops::moe_experts: no experts");
  DSINFER_CHECK(input.rank() == 2 && output.shape() == input.shape(), "ops::moe_experts: input ", input.describe(),
                " and output ", output.describe(), " must be the same [T, H]");
  DSINFER_CHECK(topk_ids.rank() == 2 && topk_ids.dim(0) == input.dim(0) && topk_ids.dtype() == DType::kI32 &&
                    topk_weights.shape() == topk_ids.shape() && topk_weights.dtype() == DType::kF32,
                "ops::moe_experts: topk_ids ", topk_ids.describe(), " / topk_weights ", topk_weights.describe(),
                " must be I32 / F32 [", input.dim(0), ", top_k]");
  const MlpWeights& first = experts.front();
  DSINFER_CHECK(first.gate_proj.in_features() == input.dim(1) && first.down_proj.out_features() == input.dim(1),
                "ops::moe_experts: expert weights ", first.gate_proj.weight.describe(), " / ",
                first.down_proj.weight.describe(), " do not match hidden size ", input.dim(1));
  const Device device =
      common_device("moe_experts", {&input, &topk_ids, &topk_weights, &first.gate_proj.weight, &output});
  if (order != nullptr) order->check("moe_experts", static_cast<int>(experts.size()), topk_ids.numel(), device);
  if (shared != nullptr) {
    DSINFER_CHECK(shared->gate_proj.in_features() == input.dim(1) && shared->down_proj.out_features() == input.dim(1) &&
                      shared->down_proj.in_features() == shared->gate_proj.out_features(),
                  "ops::moe_experts: shared expert weights ", shared->gate_proj.weight.describe(), " / ",
                  shared->down_proj.weight.describe(), " do not match hidden size ", input.dim(1));
    common_device("moe_experts (shared experts)", {&input, &shared->gate_proj.weight, &shared->up_proj.weight,
                                                   &shared->down_proj.weight});
  }
  if (device == Device::kCpu) {
    if (shared != nullptr) {
      Tensor activation = Tensor::empty({input.dim(0), shared->gate_proj.out_features()}, input.dtype());  // [T, I]
      silu_gated_linear(input, shared->gate_proj, shared->up_proj, activation, quantize_activations);
      linear(activation, shared->down_proj, output, quantize_activations);
    }
    cpu::moe_experts(input, topk_ids, topk_weights, experts, output, quantize_activations);
  } else {
    cuda::moe_experts(input, topk_ids, topk_weights, order, experts, shared, output, quantize_activations,
                      input_is_final);
  }
}

}  // namespace

void moe_experts(const Tensor& input, const Tensor& topk_ids, const Tensor& topk_weights,
                 const std::vector<MlpWeights>& experts, Tensor& output, bool quantize_activations) {
  run_moe_experts(input, topk_ids, topk_weights, nullptr, experts, nullptr, output, quantize_activations, false);
}

void moe_experts(const Tensor& input, const Tensor& topk_ids, const Tensor& topk_weights, const ExpertOrder& order,
                 const std::vector<MlpWeights>& experts, Tensor& output, bool quantize_activations) {
  run_moe_experts(input, topk_ids, topk_weights, &order, experts, nullptr, output, quantize_activations, false);
}

void moe_experts(const Tensor& input, const Tensor& topk_ids, const Tensor& topk_weights, const ExpertOrder& order,
                 const std::vector<MlpWeights>& experts, const MlpWeights& shared_experts, Tensor& output,
                 bool quantize_activations, bool input_is_final) {
  run_moe_experts(input, topk_ids, topk_weights, &order, experts, &shared_experts, output, quantize_activations,
                  input_is_final);
}

}  // namespace dsinfer::ops
