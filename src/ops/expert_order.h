// The routed assignments of a batch sorted by expert: what the grouped expert GEMMs read to find each expert's
// rows. ops::moe_routing can produce it (on CUDA in the same kernel as the routing at decode sizes) and
// ops::moe_experts consume it, so the sort is no separate step on the MoE layer's dependent chain.
#pragma once

#include <cstdint>

#include "core/error.h"
#include "core/tensor.h"

namespace dsinfer::ops {

// Rows per tile of tile_offsets: the row tile of the CUDA grouped GEMM (moe_experts.cu checks they agree).
inline constexpr int kExpertOrderRowsPerTile = 32;

// An assignment is one (token t, slot j) pair of the routing, numbered t * top_k + j. All tensors I32 on one
// device, owned by the caller (allocated once for the most tokens; `first_assignments` views a step's part).
struct ExpertOrder {
  Tensor expert_offsets;  // [E + 1]  sorted rows of expert e are [offsets[e], offsets[e + 1])
  Tensor tile_offsets;    // [E + 1]  its row tiles of kExpertOrderRowsPerTile rows, likewise
  Tensor active_experts;  // [E + 1]  experts with at least one row, ascending; their count at index E
  Tensor sorted_slots;    // [T * top_k]  assignment of each sorted row
  Tensor slot_positions;  // [T * top_k]  sorted row of each assignment (inverse of sorted_slots)

  static ExpertOrder allocate(int experts, int64_t max_assignments, Device device) {
    ExpertOrder order;
    order.expert_offsets = Tensor::empty({experts + 1}, DType::kI32, device);
    order.tile_offsets = Tensor::empty({experts + 1}, DType::kI32, device);
    order.active_experts = Tensor::empty({experts + 1}, DType::kI32, device);
    order.sorted_slots = Tensor::empty({max_assignments}, DType::kI32, device);
    order.slot_positions = Tensor::empty({max_assignments}, DType::kI32, device);
    return order;
  }

  // The same buffers with the per-assignment tensors cut to the first `assignments` entries.
  ExpertOrder first_assignments(int64_t assignments) const {
    ExpertOrder order = *this;
    order.sorted_slots = sorted_slots.slice_rows(0, assignments);
    order.slot_positions = slot_positions.slice_rows(0, assignments);
    return order;
  }

  // Throws naming `op_name` unless the tensors are I32 [experts + 1] x 3 and [assignments] x 2 on `device`.
  void check(const char* op_name, int experts, int64_t assignments, Device device) const {
    const Tensor* per_expert[] = {&expert_offsets, &tile_offsets, &active_experts};
    const char* per_expert_names[] = {"expert_offsets", "tile_offsets", "active_experts"};
    for (int i = 0; i < 3; ++i) {
      const Tensor& tensor = *per_expert[i];
      DSINFER_CHECK(tensor.defined() && tensor.dtype() == DType::kI32 && tensor.shape() == Shape({experts + 1}) &&
                        tensor.device() == device,
                    "ops::", op_name, ": expert order ", per_expert_names[i], " must be I32 [", experts + 1,
                    "] on the op's device, got ", tensor.defined() ? tensor.describe() : std::string("nothing"));
    }
    const Tensor* per_assignment[] = {&sorted_slots, &slot_positions};
    const char* per_assignment_names[] = {"sorted_slots", "slot_positions"};
    for (int i = 0; i < 2; ++i) {
      const Tensor& tensor = *per_assignment[i];
      DSINFER_CHECK(tensor.defined() && tensor.dtype() == DType::kI32 && tensor.shape() == Shape({assignments}) &&
                        tensor.device() == device,
                    "ops::", op_name, ": expert order ", per_assignment_names[i], " must be I32 [", assignments,
                    "] (tokens x top_k) on the op's device, got ",
                    tensor.defined() ? tensor.describe() : std::string("nothing"));
    }
  }
};

}  // namespace dsinfer::ops
