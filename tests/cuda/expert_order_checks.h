// Checks shared by the GPU routing tests: an expert order (ops/expert_order.h) against a plain host count of the
// ids it sorted.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "gpu_testing.h"
#include "ops/expert_order.h"

namespace dsinfer::gpu_testing {

// An expert sort of `ids` (host I32, one id per assignment) checked against a host count: offsets, tile
// offsets and the active list are exact prefix sums over the experts, and every valid assignment gets a
// distinct row inside its expert's range, sorted_slots pointing back at it; ids outside [0, experts) get -1.
// The rest are host copies of the sort's outputs. Use with ASSERT_NO_FATAL_FAILURE.
inline void expect_sorted_by_expert(const Tensor& ids, int experts, int rows_per_tile, const Tensor& offsets,
                                    const Tensor& tiles, const Tensor& active, const Tensor& sorted,
                                    const Tensor& positions) {
  const int64_t assignments = ids.numel();
  std::vector<int32_t> counts(experts, 0);
  for (int64_t i = 0; i < assignments; ++i) {
    const int32_t id = ids.data_as<int32_t>()[i];
    if (id >= 0 && id < experts) ++counts[id];
  }
  int32_t rows = 0, tile_count = 0, active_count = 0;
  for (int e = 0; e < experts; ++e) {
    ASSERT_EQ(offsets.data_as<int32_t>()[e], rows) << "expert " << e;
    ASSERT_EQ(tiles.data_as<int32_t>()[e], tile_count) << "expert " << e;
    if (counts[e] > 0) {
      ASSERT_EQ(active.data_as<int32_t>()[active_count++], e);
    }
    rows += counts[e];
    tile_count += (counts[e] + rows_per_tile - 1) / rows_per_tile;
  }
  ASSERT_EQ(offsets.data_as<int32_t>()[experts], rows);
  ASSERT_EQ(tiles.data_as<int32_t>()[experts], tile_count);
  ASSERT_EQ(active.data_as<int32_t>()[experts], active_count);

  std::vector<bool> row_taken(rows, false);
  for (int64_t i = 0; i < assignments; ++i) {
    const int32_t id = ids.data_as<int32_t>()[i], position = positions.data_as<int32_t>()[i];
    if (id < 0 || id >= experts) {
      EXPECT_EQ(position, -1) << "assignment " << i << " of expert " << id;
      continue;
    }
    ASSERT_GE(position, offsets.data_as<int32_t>()[id]) << "assignment " << i;
    ASSERT_LT(position, offsets.data_as<int32_t>()[id + 1]) << "assignment " << i;
    EXPECT_FALSE(row_taken[position]) << "row " << position << " given twice";
    row_taken[position] = true;
    EXPECT_EQ(sorted.data_as<int32_t>()[position], i) << "row " << position;
  }
}

// A device expert order for `assignments` assignments, every buffer poisoned (0xFF bytes) and the per-assignment
// ones allocated 40 entries longer, as the model's are (sized for its largest batch).
inline ops::ExpertOrder poisoned_order(int experts, int64_t assignments) {
  ops::ExpertOrder order;
  order.expert_offsets = poisoned({experts + 1}, DType::kI32);
  order.tile_offsets = poisoned({experts + 1}, DType::kI32);
  order.active_experts = poisoned({experts + 1}, DType::kI32);
  order.sorted_slots = poisoned({assignments + 40}, DType::kI32);
  order.slot_positions = poisoned({assignments + 40}, DType::kI32);
  return order.first_assignments(assignments);
}

}  // namespace dsinfer::gpu_testing
