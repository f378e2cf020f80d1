// rms_norm and the fused residual add + rms_norm, one block per row with float32 statistics; the residual sum
// is stored rounded to the residual's dtype, and normalised from the float sum before that rounding.
// A decode step runs these on 1-8 rows, where the cost is the chain of memory round trips, not bandwidth, so
// the common case (width a multiple of 8, 16-byte aligned rows) takes the vector kernel: one thread per 8
// values of the row, the norm gain fetched before waiting on the previous kernel (a weight: no kernel writes
// it during a step), one read of the row, one barrier, one write. Other widths take the scalar kernel.
#include "kernels/common/launch.cuh"
#include "kernels/runtime/op_timing.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/cuda_ops.h"
#include "ops/cuda/vector_access.cuh"

namespace dsinfer::ops::cuda {

namespace {

constexpr int kScalarThreads = 512;
constexpr int kScalarValuesPerThread = 16;
constexpr int64_t kMaxWidth = kScalarThreads * kScalarValuesPerThread;  // 8192 (DeepSeek-V3: 7168)
constexpr int kMaxVectorThreads = 1024;
static_assert(kMaxVectorThreads * kVectorValues >= kMaxWidth, "the vector kernel covers every allowed width");

// What both kernels take. residual == nullptr: output = rms_norm(input); otherwise residual += addend (both of
// `activation_kind`) and output = rms_norm(the sum); input is then unused.
struct NormArguments {
  const void* input;
  void* residual;
  const void* addend;
  FloatKind activation_kind, addend_kind;
  const void* weight;
  FloatKind weight_kind;
  int64_t width;
  float epsilon;
  void* output;
  FloatKind output_kind;
};

// Block: vector_threads(width) threads, thread t owning columns [8t, 8t + 8) (threads past the row end idle
// but join the reduction). Requires width % 8 == 0 and every pointer vector_aligned.
__global__ void __launch_bounds__(kMaxVectorThreads) rms_norm_vector_kernel(NormArguments arguments) {
  dsinfer::cuda::allow_next_kernel();
  const int64_t column = static_cast<int64_t>(threadIdx.x) * kVectorValues;
  const bool active = column < arguments.width;
  float gain[kVectorValues];
  if (active) load_vector(arguments.weight, arguments.weight_kind, column, gain);
  dsinfer::cuda::wait_for_previous_kernel();

  const int64_t index = static_cast<int64_t>(blockIdx.x) * arguments.width + column;
  float values[kVectorValues] = {};
  if (active) {
    if (arguments.residual != nullptr) {
      float addend[kVectorValues];
      load_vector(arguments.residual, arguments.activation_kind, index, values);
      load_vector(arguments.addend, arguments.addend_kind, index, addend);
#pragma unroll
      for (int i = 0; i < kVectorValues; ++i) values[i] += addend[i];
      store_vector(arguments.residual, arguments.activation_kind, index, values);
    } else {
      load_vector(arguments.input, arguments.activation_kind, index, values);
    }
  }
  float sum_squares = 0.0f;
#pragma unroll
  for (int i = 0; i < kVectorValues; ++i) sum_squares += values[i] * values[i];
  const float inverse_rms =
      rsqrtf(block_sum_once(sum_squares) / static_cast<float>(arguments.width) + arguments.epsilon);
  if (!active) return;
#pragma unroll
  for (int i = 0; i < kVectorValues; ++i) values[i] = gain[i] * (values[i] * inverse_rms);
  store_vector(arguments.output, arguments.output_kind, index, values);
}

// Any width up to kMaxWidth and any alignment: kScalarThreads threads, thread t owning columns t + 512 i.
__global__ void __launch_bounds__(kScalarThreads) rms_norm_scalar_kernel(NormArguments arguments) {
  dsinfer::cuda::allow_next_kernel();
  float gain[kScalarValuesPerThread];
#pragma unroll
  for (int i = 0; i < kScalarValuesPerThread; ++i) {
    const int64_t column = threadIdx.x + static_cast<int64_t>(i) * kScalarThreads;
    gain[i] = column < arguments.width ? load_as_float(arguments.weight, arguments.weight_kind, column) : 0.0f;
  }
  dsinfer::cuda::wait_for_previous_kernel();

  const int64_t row_offset = static_cast<int64_t>(blockIdx.x) * arguments.width;
  float values[kScalarValuesPerThread];
  float sum_squares = 0.0f;
#pragma unroll
  for (int i = 0; i < kScalarValuesPerThread; ++i) {
    const int64_t index = row_offset + threadIdx.x + static_cast<int64_t>(i) * kScalarThreads;
    float value = 0.0f;
    if (threadIdx.x + static_cast<int64_t>(i) * kScalarThreads < arguments.width) {
      if (arguments.residual != nullptr) {
        value = load_as_float(arguments.residual, arguments.activation_kind, index) +
                load_as_float(arguments.addend, arguments.addend_kind, index);
        store_from_float(arguments.residual, arguments.activation_kind, index, value);
      } else {
        value = load_as_float(arguments.input, arguments.activation_kind, index);
      }
    }
    values[i] = value;
    sum_squares += value * value;
  }
  const float inverse_rms =
      rsqrtf(block_sum_once(sum_squares) / static_cast<float>(arguments.width) + arguments.epsilon);
#pragma unroll
  for (int i = 0; i < kScalarValuesPerThread; ++i) {
    const int64_t column = threadIdx.x + static_cast<int64_t>(i) * kScalarThreads;
    if (column < arguments.width)
      store_from_float(arguments.output, arguments.output_kind, row_offset + column, gain[i] * (values[i] * inverse_rms));
  }
}

// `kernel_name` names both kernels for DSINFER_CUDA_SKIP_KERNELS (scripts/gpu-skip-profile.sh) and launch errors.
void launch_norm(const char* op_name, const char* kernel_name, int64_t rows, const NormArguments& arguments) {
  DSINFER_CHECK(arguments.width > 0 && arguments.width <= kMaxWidth, "ops::", op_name, " on CUDA supports rows up to ",
                kMaxWidth, " wide, got ", arguments.width);
  if (rows == 0) return;
  const bool vector = arguments.width % kVectorValues == 0 && vector_aligned(arguments.input) &&
                      vector_aligned(arguments.residual) && vector_aligned(arguments.addend) &&
                      vector_aligned(arguments.weight) && vector_aligned(arguments.output);
  if (vector) {
    dsinfer::cuda::launch_kernel(kernel_name, rms_norm_vector_kernel, static_cast<unsigned>(rows),
                                 vector_threads(arguments.width), 0, dsinfer::cuda::current_stream(), arguments);
  } else {
    dsinfer::cuda::launch_kernel(kernel_name, rms_norm_scalar_kernel, static_cast<unsigned>(rows), kScalarThreads, 0,
                                 dsinfer::cuda::current_stream(), arguments);
  }
}

}  // namespace

void rms_norm(const Tensor& input, const Tensor& weight, double epsilon, Tensor& output) {
  dsinfer::cuda::OpTimer timer("rms_norm");
  require_float_dtype("rms_norm", input);
  require_float_dtype("rms_norm", weight);
  require_float_dtype("rms_norm", output);
  const NormArguments arguments{.input = input.data(),
                                .residual = nullptr,
                                .addend = nullptr,
                                .activation_kind = float_kind(input),
                                .addend_kind = float_kind(input),
                                .weight = weight.data(),
                                .weight_kind = float_kind(weight),
                                .width = input.dim(1),
                                .epsilon = static_cast<float>(epsilon),
                                .output = output.data(),
                                .output_kind = float_kind(output)};
  launch_norm("rms_norm", "rms_norm_kernel", input.dim(0), arguments);
}

void add_rms_norm(Tensor& residual, const Tensor& addend, const Tensor& weight, double epsilon, Tensor& output) {
  dsinfer::cuda::OpTimer timer("add_rms_norm");
  require_float_dtype("add_rms_norm", residual);
  require_float_dtype("add_rms_norm", addend);
  require_float_dtype("add_rms_norm", weight);
  require_float_dtype("add_rms_norm", output);
  const NormArguments arguments{.input = nullptr,
                                .residual = residual.data(),
                                .addend = addend.data(),
                                .activation_kind = float_kind(residual),
                                .addend_kind = float_kind(addend),
                                .weight = weight.data(),
                                .weight_kind = float_kind(weight),
                                .width = residual.dim(1),
                                .epsilon = static_cast<float>(epsilon),
                                .output = output.data(),
                                .output_kind = float_kind(output)};
  launch_norm("add_rms_norm", "rms_norm_kernel (add)", residual.dim(0), arguments);
}

}  // namespace dsinfer::ops::cuda
