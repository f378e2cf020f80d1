// rms_norm and the fused residual add + rms_norm. One block per row; the row stays in registers between
// the statistics and the scaling, and the statistics are float32 (the residual sum is normalised before it
// is rounded to the activation dtype).
#include "kernels/common/launch.cuh"
#include "kernels/runtime/op_timing.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/cuda_ops.h"

namespace dsinfer::ops::cuda {

namespace {

constexpr int kThreads = 512;
constexpr int kValuesPerThread = 16;  // rows up to 8192 wide (DeepSeek-V3: 7168)

__global__ void __launch_bounds__(kThreads)
    rms_norm_kernel(const void* input, FloatKind input_kind, void* residual, const void* addend, FloatKind addend_kind,
                    const void* weight, FloatKind weight_kind, int64_t width, float epsilon, void* output,
                    FloatKind output_kind) {
  dsinfer::cuda::allow_next_kernel();
  dsinfer::cuda::wait_for_previous_kernel();
  const int64_t row_offset = static_cast<int64_t>(blockIdx.x) * width;
  float values[kValuesPerThread];
  float sum_squares = 0.0f;
#pragma unroll
  for (int i = 0; i < kValuesPerThread; ++i) {
    int64_t column = threadIdx.x + static_cast<int64_t>(i) * kThreads;
    float value = 0.0f;
    if (column < width) {
      if (residual != nullptr) {
        // add_rms_norm: residual += addend (input is the residual's kind)
        value = load_as_float(residual, input_kind, row_offset + column) +
                load_as_float(addend, addend_kind, row_offset + column);
        store_from_float(residual, input_kind, row_offset + column, value);
      } else {
        value = load_as_float(input, input_kind, row_offset + column);
      }
    }
    values[i] = value;
    sum_squares += value * value;
  }
  const float inverse_rms = rsqrtf(block_sum(sum_squares) / static_cast<float>(width) + epsilon);
#pragma unroll
  for (int i = 0; i < kValuesPerThread; ++i) {
    int64_t column = threadIdx.x + static_cast<int64_t>(i) * kThreads;
    if (column < width)
      store_from_float(output, output_kind, row_offset + column,
                       load_as_float(weight, weight_kind, column) * (values[i] * inverse_rms));
  }
}

void check_width(const char* op_name, int64_t width) {
  DSINFER_CHECK(width > 0 && width <= kThreads * kValuesPerThread, "ops::", op_name, " on CUDA supports rows up to ",
                kThreads * kValuesPerThread, " wide, got ", width);
}

}  // namespace

void rms_norm(const Tensor& input, const Tensor& weight, double epsilon, Tensor& output) {
  dsinfer::cuda::OpTimer timer("rms_norm");
  require_float_dtype("rms_norm", input);
  require_float_dtype("rms_norm", weight);
  require_float_dtype("rms_norm", output);
  const int64_t rows = input.dim(0), width = input.dim(1);
  check_width("rms_norm", width);
  if (rows == 0) return;
  dsinfer::cuda::launch_kernel("rms_norm_kernel", rms_norm_kernel, static_cast<unsigned>(rows), kThreads, 0,
                               dsinfer::cuda::current_stream(), input.data(), float_kind(input), nullptr, nullptr,
                               FloatKind::kF32, weight.data(), float_kind(weight), width, static_cast<float>(epsilon),
                               output.data(), float_kind(output));
}

void add_rms_norm(Tensor& residual, const Tensor& addend, const Tensor& weight, double epsilon, Tensor& output) {
  dsinfer::cuda::OpTimer timer("add_rms_norm");
  require_float_dtype("add_rms_norm", residual);
  require_float_dtype("add_rms_norm", addend);
  require_float_dtype("add_rms_norm", weight);
  require_float_dtype("add_rms_norm", output);
  const int64_t rows = residual.dim(0), width = residual.dim(1);
  check_width("add_rms_norm", width);
  if (rows == 0) return;
  dsinfer::cuda::launch_kernel("rms_norm_kernel (add)", rms_norm_kernel, static_cast<unsigned>(rows), kThreads, 0,
                               dsinfer::cuda::current_stream(), nullptr, float_kind(residual), residual.data(),
                               addend.data(), float_kind(addend), weight.data(), float_kind(weight), width,
                               static_cast<float>(epsilon), output.data(), float_kind(output));
}

}  // namespace dsinfer::ops::cuda
