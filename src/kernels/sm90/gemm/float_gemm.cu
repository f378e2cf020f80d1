// F32-activation GEMMs on the CUDA cores (see float_gemm.h). One thread per output element: a CTA takes 128
// consecutive columns of one row of one batch entry, reads that A row through the cache (every thread reads
// the same element, a broadcast) and walks k in order with a float accumulator.
#include "kernels/sm90/gemm/float_gemm.h"

#include <cuda_bf16.h>

#include "core/error.h"
#include "kernels/common/cuda_check.h"

namespace dsinfer::cuda {

namespace {

constexpr int kThreads = 128;

template <typename Weight, typename Out>
__global__ void __launch_bounds__(kThreads)
    float_gemm_kernel(const FloatGemmShape shape, const float* __restrict__ a, const Weight* __restrict__ b,
                      Out* __restrict__ c) {
  const int64_t column = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  const int64_t row = blockIdx.y, batch = blockIdx.z;
  if (column >= shape.n) return;
  const float* a_row = a + batch * shape.a_batch_stride + row * shape.a_row_stride;
  const Weight* b_column = b + batch * shape.b_batch_stride + column * shape.b_n_stride;
  float sum = 0.0f;
  for (int64_t k = 0; k < shape.k; ++k) sum += a_row[k] * static_cast<float>(b_column[k * shape.b_k_stride]);
  Out* out = c + batch * shape.c_batch_stride + row * shape.c_row_stride + column;
  if constexpr (sizeof(Out) == 4) *out = sum;
  else *out = __float2bfloat16_rn(sum);
}

template <typename Weight>
void launch(const FloatGemmShape& shape, const float* a, const Weight* b, void* c, DType c_dtype, cudaStream_t stream) {
  dim3 grid(static_cast<unsigned>((shape.n + kThreads - 1) / kThreads), static_cast<unsigned>(shape.m),
            static_cast<unsigned>(shape.batch));
  if (c_dtype == DType::kF32) {
    float_gemm_kernel<Weight, float><<<grid, kThreads, 0, stream>>>(shape, a, b, static_cast<float*>(c));
  } else {
    float_gemm_kernel<Weight, __nv_bfloat16><<<grid, kThreads, 0, stream>>>(shape, a, b, static_cast<__nv_bfloat16*>(c));
  }
  DSINFER_CUDA_CHECK_LAUNCH("float_gemm_kernel");
}

}  // namespace

void gemm_float(const FloatGemmShape& shape, const float* a, const void* b, DType b_dtype, void* c, DType c_dtype,
                cudaStream_t stream) {
  DSINFER_CHECK(shape.m >= 0 && shape.n > 0 && shape.k > 0 && shape.batch >= 1, "F32 GEMM: bad shape m=", shape.m,
                " n=", shape.n, " k=", shape.k, " batch=", shape.batch);
  DSINFER_CHECK(shape.m <= 65535 && shape.batch <= 65535, "F32 GEMM: ", shape.m, " rows x ", shape.batch,
                " batches exceed one launch (at most 65535 each)");
  DSINFER_CHECK(b_dtype == DType::kF32 || b_dtype == DType::kBF16, "F32 GEMM: weights must be F32 or BF16, got ",
                dtype_name(b_dtype));
  DSINFER_CHECK(c_dtype == DType::kF32 || c_dtype == DType::kBF16, "F32 GEMM: output must be F32 or BF16, got ",
                dtype_name(c_dtype));
  if (shape.m == 0) return;
  if (b_dtype == DType::kF32) launch(shape, a, static_cast<const float*>(b), c, c_dtype, stream);
  else launch(shape, a, static_cast<const __nv_bfloat16*>(b), c, c_dtype, stream);
}

void gemm_float_linear(const float* a, const void* weight, DType weight_dtype, void* out, DType out_dtype, int64_t m,
                       int64_t n, int64_t k, cudaStream_t stream) {
  FloatGemmShape shape;
  shape.m = m;
  shape.n = n;
  shape.k = k;
  shape.a_row_stride = k;
  shape.b_n_stride = k;
  shape.b_k_stride = 1;
  shape.c_row_stride = n;
  gemm_float(shape, a, weight, weight_dtype, out, out_dtype, stream);
}

}  // namespace dsinfer::cuda
