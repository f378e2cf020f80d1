#include "kernels/sm90/quant/fp8_group_quant.h"

#include "core/error.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/device_math.cuh"
#include "kernels/common/launch.cuh"

namespace dsinfer::cuda {

namespace {

constexpr int kGroupSize = 128;
constexpr int kWarpsPerBlock = 8;

__device__ __forceinline__ void load4(const __nv_bfloat16* row, int64_t column, float (&values)[4]) {
  uint2 raw = *reinterpret_cast<const uint2*>(row + column);
  float2 low = unpack_bf16x2(raw.x), high = unpack_bf16x2(raw.y);
  values[0] = low.x;
  values[1] = low.y;
  values[2] = high.x;
  values[3] = high.y;
}
__device__ __forceinline__ void load4(const float* row, int64_t column, float (&values)[4]) {
  float4 raw = *reinterpret_cast<const float4*>(row + column);
  values[0] = raw.x;
  values[1] = raw.y;
  values[2] = raw.z;
  values[3] = raw.w;
}

// One warp per (row, group): each lane owns 4 consecutive columns.
template <typename Input>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    quantize_fp8_groups_kernel(const Input* __restrict__ input, int64_t input_row_stride,
                               uint8_t* __restrict__ output, float* __restrict__ scales, int64_t m, int64_t padded_m,
                               int64_t k, int64_t num_groups) {
  allow_next_kernel();
  wait_for_previous_kernel();
  int64_t warp_index = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (warp_index >= padded_m * num_groups) return;
  int64_t row = warp_index / num_groups;
  int64_t group = warp_index % num_groups;
  int64_t column = group * kGroupSize + lane * 4;
  bool in_range = column < k;
  uint8_t* output_row = output + row * k;
  if (row >= m) {
    if (in_range) *reinterpret_cast<uint32_t*>(output_row + column) = 0u;
    if (lane == 0) scales[group * padded_m + row] = 1.0f;
    return;
  }
  float values[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  if (in_range) load4(input + row * input_row_stride, column, values);
  float amax = fmaxf(fmaxf(fabsf(values[0]), fabsf(values[1])), fmaxf(fabsf(values[2]), fabsf(values[3])));
  amax = warp_max(amax);
  // Scale and division in double, as the CPU twin and the float64 reference do: a float32 scale moves every
  // quotient by up to an ulp, enough to round a few codes per thousand the other way at ties.
  const double scale = fmax(static_cast<double>(amax) / kFp8E4m3Max, static_cast<double>(1e-10f));
  if (in_range) {
    uint32_t packed = 0;
#pragma unroll
    for (int i = 0; i < 4; ++i)
      packed |= static_cast<uint32_t>(float_to_e4m3(static_cast<float>(values[i] / scale))) << (8 * i);
    *reinterpret_cast<uint32_t*>(output_row + column) = packed;
  }
  if (lane == 0) scales[group * padded_m + row] = static_cast<float>(scale);
}

}  // namespace

void quantize_fp8_groups(const void* input, DType input_dtype, int64_t input_row_stride, void* output, float* scales,
                         int64_t m, int64_t padded_m, int64_t k, cudaStream_t stream) {
  DSINFER_CHECK(input_dtype == DType::kBF16 || input_dtype == DType::kF32, "FP8 quantization: input dtype ",
                dtype_name(input_dtype), " is not BF16 or F32");
  DSINFER_CHECK(k > 0 && k % 4 == 0, "FP8 quantization: row length ", k, " is not a positive multiple of 4");
  DSINFER_CHECK(input_row_stride % 4 == 0 && input_row_stride >= k, "FP8 quantization: row stride ",
                input_row_stride, " must be a multiple of 4 and at least ", k);
  DSINFER_CHECK(m >= 0 && padded_m >= m, "FP8 quantization: padded rows ", padded_m, " < rows ", m);
  if (padded_m == 0) return;
  int64_t num_groups = (k + kGroupSize - 1) / kGroupSize;
  int64_t warps = padded_m * num_groups;
  int64_t blocks = (warps + kWarpsPerBlock - 1) / kWarpsPerBlock;
  const auto grid = static_cast<unsigned>(blocks);
  if (input_dtype == DType::kBF16) {
    launch_kernel("quantize_fp8_groups_kernel", quantize_fp8_groups_kernel<__nv_bfloat16>, grid, kWarpsPerBlock * 32, 0,
                  stream, static_cast<const __nv_bfloat16*>(input), input_row_stride, static_cast<uint8_t*>(output),
                  scales, m, padded_m, k, num_groups);
  } else {
    launch_kernel("quantize_fp8_groups_kernel", quantize_fp8_groups_kernel<float>, grid, kWarpsPerBlock * 32, 0, stream,
                  static_cast<const float*>(input), input_row_stride, static_cast<uint8_t*>(output), scales, m,
                  padded_m, k, num_groups);
  }
}

}  // namespace dsinfer::cuda
