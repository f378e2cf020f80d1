// The skinny GEMM kernel's view of one linear weight (kernels/sm90/gemm/skinny_gemm.h): its weight, FP8 block
// scales where it has them, width, and where the output goes. Shared by ops::linear's skinny path and the MoE's
// shared experts (the dense set of the grouped launches).
#pragma once

#include "kernels/sm90/gemm/skinny_gemm.h"
#include "ops/linear.h"

namespace dsinfer::ops::cuda {

inline dsinfer::cuda::SkinnyProjection skinny_projection(const LinearWeight& weight, void* out, bool out_f32) {
  dsinfer::cuda::SkinnyProjection projection{};
  projection.weight = weight.weight.data();
  if (weight.is_fp8()) {
    projection.scales = weight.scale_inv.data_as<const float>();
    projection.scale_row_length = weight.scale_inv.dim(1);
  }
  projection.n = weight.out_features();
  projection.out = out;
  projection.out_f32 = out_f32;
  return projection;
}

}  // namespace dsinfer::ops::cuda
