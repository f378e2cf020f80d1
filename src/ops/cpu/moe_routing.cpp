#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "ops/cpu/cpu_ops.h"

namespace dsinfer::ops::cpu {

namespace {

// Indices of the `count` largest values, largest first; ties go to the lower index.
void top_indices(const std::vector<double>& values, int count, std::vector<int>& order) {
  order.resize(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + count, order.end(), [&](int a, int b) {
    return values[a] > values[b] || (values[a] == values[b] && a < b);
  });
  order.resize(count);
}

}  // namespace

void moe_routing(const Tensor& router_logits, const Tensor& correction_bias, const MoeRoutingParams& params,
                 Tensor& topk_ids, Tensor& topk_weights) {
  const int experts = params.num_experts, top_k = params.top_k, groups = params.num_groups;
  const int group_size = experts / groups;
  const bool sigmoid = params.scoring_func == ScoringFunc::kSigmoid;
  const bool grouped = params.topk_method != TopkMethod::kGreedy;
  const float* bias = correction_bias.defined() ? correction_bias.data_as<const float>() : nullptr;
  const float* logits = router_logits.data_as<const float>();
  int32_t* ids = topk_ids.data_as<int32_t>();
  float* weights = topk_weights.data_as<float>();

  std::vector<double> scores(experts), choice(experts), group_scores(groups);
  std::vector<int> chosen, best_groups;
  for (int64_t t = 0; t < router_logits.dim(0); ++t) {
    const float* row = logits + t * experts;
    if (sigmoid) {
      for (int e = 0; e < experts; ++e) scores[e] = 1.0 / (1.0 + std::exp(-static_cast<double>(row[e])));
    } else {
      double largest = *std::max_element(row, row + experts), total = 0.0;
      for (int e = 0; e < experts; ++e) total += scores[e] = std::exp(row[e] - largest);
      for (int e = 0; e < experts; ++e) scores[e] /= total;
    }
    for (int e = 0; e < experts; ++e) choice[e] = scores[e] + (sigmoid && bias ? bias[e] : 0.0);
    if (grouped) {
      for (int g = 0; g < groups; ++g) {
        const double* member = choice.data() + g * group_size;
        if (sigmoid) {  // sum of the group's two best
          double first = -std::numeric_limits<double>::infinity(), second = first;
          for (int i = 0; i < group_size; ++i) {
            if (member[i] > first) {
              second = first;
              first = member[i];
            } else if (member[i] > second) {
              second = member[i];
            }
          }
          group_scores[g] = first + second;
        } else {
          group_scores[g] = *std::max_element(member, member + group_size);
        }
      }
      top_indices(group_scores, params.top_k_groups, best_groups);
      std::vector<bool> kept(groups, false);
      for (int g : best_groups) kept[g] = true;
      for (int e = 0; e < experts; ++e)
        if (!kept[e / group_size]) choice[e] = -std::numeric_limits<double>::infinity();
    }
    top_indices(choice, top_k, chosen);
    double total = 0.0;
    for (int j = 0; j < top_k; ++j) total += scores[chosen[j]];
    double normalizer = params.normalize_top_k && top_k > 1 ? 1.0 / (total + 1e-20) : 1.0;
    for (int j = 0; j < top_k; ++j) {
      ids[t * top_k + j] = chosen[j];
      weights[t * top_k + j] = static_cast<float>(scores[chosen[j]] * normalizer * params.routed_scaling_factor);
    }
  }
}

void sort_by_expert(const Tensor& topk_ids, int experts, ExpertOrder& order) {
  const int32_t* ids = topk_ids.data_as<const int32_t>();
  const int64_t assignments = topk_ids.numel();
  int32_t* expert_offsets = order.expert_offsets.data_as<int32_t>();  // [E + 1]
  int32_t* tile_offsets = order.tile_offsets.data_as<int32_t>();      // [E + 1]
  int32_t* active_experts = order.active_experts.data_as<int32_t>();  // [E + 1]
  int32_t* sorted_slots = order.sorted_slots.data_as<int32_t>();      // [assignments]
  int32_t* slot_positions = order.slot_positions.data_as<int32_t>();  // [assignments]

  std::vector<int32_t> next_row(experts, 0);  // counts, then each expert's next free row
  for (int64_t i = 0; i < assignments; ++i)
    if (ids[i] >= 0 && ids[i] < experts) ++next_row[ids[i]];
  int32_t rows = 0, tiles = 0, active = 0;
  for (int e = 0; e < experts; ++e) {
    const int32_t count = next_row[e];
    expert_offsets[e] = rows;
    tile_offsets[e] = tiles;
    if (count > 0) active_experts[active++] = e;
    next_row[e] = rows;
    rows += count;
    tiles += (count + kExpertOrderRowsPerTile - 1) / kExpertOrderRowsPerTile;
  }
  expert_offsets[experts] = rows;
  tile_offsets[experts] = tiles;
  active_experts[experts] = active;
  for (int64_t i = 0; i < assignments; ++i) {
    int32_t position = -1;
    if (ids[i] >= 0 && ids[i] < experts) {
      position = next_row[ids[i]]++;
      sorted_slots[position] = static_cast<int32_t>(i);
    }
    slot_positions[i] = position;
  }
}

}  // namespace dsinfer::ops::cpu
