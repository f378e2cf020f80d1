#include "ops/add_rms_norm.h"

#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cuda/cuda_ops.h"
#include "ops/dispatch.h"

namespace dsinfer::ops {

namespace {

void check_expert_rows(const RoutedExpertRows& expert_rows, const Tensor& residual) {
  const Tensor& weights = expert_rows.weights;
  DSINFER_CHECK(weights.rank() == 2 && weights.dim(0) == residual.dim(0) && weights.dtype() == DType::kF32,
                "ops::add_rms_norm: expert weights ", weights.describe(), " should be F32 [", residual.dim(0),
                ", top_k]");
  const int64_t assignments = weights.numel();
  DSINFER_CHECK(expert_rows.rows.rank() == 2 && expert_rows.rows.dim(0) == assignments &&
                    expert_rows.rows.dim(1) == residual.dim(1) && expert_rows.rows.dtype() == residual.dtype(),
                "ops::add_rms_norm: expert rows ", expert_rows.rows.describe(), " should be ",
                dtype_name(residual.dtype()), " [", assignments, ", ", residual.dim(1), "]");
  DSINFER_CHECK(expert_rows.slot_positions.rank() == 1 && expert_rows.slot_positions.dim(0) == assignments &&
                    expert_rows.slot_positions.dtype() == DType::kI32,
                "ops::add_rms_norm: expert slot positions ", expert_rows.slot_positions.describe(), " should be I32 [",
                assignments, "]");
}

void run_add_rms_norm(Tensor& residual, const Tensor& addend, const RoutedExpertRows* expert_rows, const Tensor& weight,
                      double epsilon, Tensor& output) {
  DSINFER_CHECK(residual.rank() == 2 && weight.rank() == 1 && weight.dim(0) == residual.dim(1),
                "ops::add_rms_norm: residual ", residual.describe(), " does not match weight ", weight.describe());
  DSINFER_CHECK(addend.shape() == residual.shape() && output.shape() == residual.shape(),
                "ops::add_rms_norm: addend ", addend.describe(), " and output ", output.describe(),
                " should be ", shape_to_string(residual.shape()));
  DSINFER_CHECK(output.data() != residual.data() && output.data() != addend.data(),
                "ops::add_rms_norm: output must not alias residual or addend");
  const Device device = common_device("add_rms_norm", {&residual, &addend, &weight, &output});
  if (expert_rows != nullptr) {
    check_expert_rows(*expert_rows, residual);
    common_device("add_rms_norm (expert rows)",
                  {&residual, &expert_rows->rows, &expert_rows->slot_positions, &expert_rows->weights});
  }
  if (device == Device::kCpu) {
    cpu::add_rms_norm(residual, addend, expert_rows, weight, epsilon, output);
  } else {
    cuda::add_rms_norm(residual, addend, expert_rows, weight, epsilon, output);
  }
}

}  // namespace

void add_rms_norm(Tensor& residual, const Tensor& addend, const Tensor& weight, double epsilon, Tensor& output) {
  run_add_rms_norm(residual, addend, nullptr, weight, epsilon, output);
}

void add_rms_norm(Tensor& residual, const Tensor& addend, const RoutedExpertRows& expert_rows, const Tensor& weight,
                  double epsilon, Tensor& output) {
  run_add_rms_norm(residual, addend, expert_rows.pending() ? &expert_rows : nullptr, weight, epsilon, output);
}

}  // namespace dsinfer::ops
