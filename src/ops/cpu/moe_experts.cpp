#include <algorithm>
#include <cmath>
#include <vector>

#include "core/thread_pool.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/float_rows.h"
#include "ops/cpu/matmul.h"

namespace dsinfer::ops::cpu {

namespace {

// One expert's share of the batch: the (token, slot) assignments routed to it.
struct ExpertAssignments {
  std::vector<int32_t> tokens;  // token row of each assignment
  std::vector<int64_t> slots;   // t * top_k + j, where the expert's output row goes
};

}  // namespace

void moe_experts(const Tensor& input, const Tensor& topk_ids, const Tensor& topk_weights,
                 const std::vector<MlpWeights>& experts, Tensor& output, bool quantize_activations) {
  require_f32("moe_experts", input);
  require_f32("moe_experts", output);
  const int64_t tokens = input.dim(0), hidden = input.dim(1), top_k = topk_ids.dim(1);
  const int64_t intermediate = experts.front().gate_proj.out_features();
  const int32_t* ids = topk_ids.data_as<const int32_t>();
  const float* weights = topk_weights.data_as<const float>();
  const float* x = input.data_as<const float>();

  std::vector<ExpertAssignments> assigned(experts.size());
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t j = 0; j < top_k; ++j) {
      int32_t expert = ids[t * top_k + j];
      DSINFER_CHECK(expert >= 0 && expert < static_cast<int32_t>(experts.size()), "ops::moe_experts: expert id ",
                    expert, " outside [0, ", experts.size(), ")");
      assigned[expert].tokens.push_back(static_cast<int32_t>(t));
      assigned[expert].slots.push_back(t * top_k + j);
    }
  }
  std::vector<int> active;
  for (size_t e = 0; e < experts.size(); ++e)
    if (!assigned[e].tokens.empty()) active.push_back(static_cast<int>(e));

  // [tokens * top_k, hidden]: each assignment's expert output, combined below in slot order (deterministic).
  std::vector<float> expert_out(static_cast<size_t>(tokens * top_k * hidden));
  // Experts run in parallel; each one's matmuls then run inline on its thread.
  parallel_for(static_cast<int64_t>(active.size()), 1, [&](int64_t begin, int64_t end) {
    std::vector<float> rows, gate, up, down;
    for (int64_t a = begin; a < end; ++a) {
      const MlpWeights& expert = experts[active[a]];
      const ExpertAssignments& work = assigned[active[a]];
      const int64_t count = static_cast<int64_t>(work.tokens.size());
      rows.resize(static_cast<size_t>(count * hidden));
      gate.resize(static_cast<size_t>(count * intermediate));
      up.resize(gate.size());
      down.resize(rows.size());
      for (int64_t i = 0; i < count; ++i) std::copy_n(x + work.tokens[i] * hidden, hidden, rows.data() + i * hidden);
      matmul_weight_transposed(rows.data(), count, expert.gate_proj, gate.data(), quantize_activations);  // [n, I]
      matmul_weight_transposed(rows.data(), count, expert.up_proj, up.data(), quantize_activations);      // [n, I]
      for (size_t i = 0; i < gate.size(); ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
      matmul_weight_transposed(gate.data(), count, expert.down_proj, down.data(), quantize_activations);  // [n, H]
      for (int64_t i = 0; i < count; ++i)
        std::copy_n(down.data() + i * hidden, hidden, expert_out.data() + work.slots[i] * hidden);
    }
  });
  float* out = output.data_as<float>();
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t j = 0; j < top_k; ++j)
      axpy(weights[t * top_k + j], expert_out.data() + (t * top_k + j) * hidden, out + t * hidden, hidden);
}

}  // namespace dsinfer::ops::cpu
