#include "kernels/gemm/cublaslt_gemm.h"

#include <cublasLt.h>

#include <map>
#include <mutex>
#include <tuple>

#include "core/error.h"
#include "core/tensor.h"
#include "kernels/common/cuda_check.h"
#include "kernels/runtime/device.h"

namespace dsinfer::cuda {

namespace {

constexpr size_t kWorkspaceBytes = 32u << 20;  // cuBLASLt's recommendation for Hopper

// Everything a plan depends on, in cuBLAS's column-major terms.
struct GemmDescription {
  bool fp8_blockwise = false;  // e4m3 inputs, A scaled BLK128x128, B scaled VEC128
  DType output_dtype = DType::kBF16;
  BatchedGemmShape shape;

  auto key() const {
    return std::make_tuple(fp8_blockwise, output_dtype, shape.transpose_a, shape.transpose_b, shape.m, shape.n,
                           shape.k, shape.lda, shape.ldb, shape.ldc, shape.stride_a, shape.stride_b, shape.stride_c,
                           shape.batch);
  }
  bool operator<(const GemmDescription& other) const { return key() < other.key(); }
};

struct Plan {
  bool supported = false;
  cublasLtMatmulDesc_t operation = nullptr;
  cublasLtMatrixLayout_t a_layout = nullptr, b_layout = nullptr, c_layout = nullptr;
  cublasLtMatmulAlgo_t algorithm{};
};

cublasLtMatrixLayout_t make_layout(cudaDataType_t type, int64_t rows, int64_t columns, int64_t leading, int batch,
                                   int64_t stride) {
  cublasLtMatrixLayout_t layout = nullptr;
  DSINFER_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&layout, type, rows, columns, leading));
  if (batch > 1) {
    int32_t count = batch;
    DSINFER_CUBLAS_CHECK(
        cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)));
    DSINFER_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                                          &stride, sizeof(stride)));
  }
  return layout;
}

class Cublaslt {
 public:
  Cublaslt() {
    DSINFER_CUBLAS_CHECK(cublasLtCreate(&handle_));
    workspace_ = Tensor::empty({static_cast<int64_t>(kWorkspaceBytes)}, DType::kU8, Device::kCuda);
  }

  // FP8 block scaling: the heuristic insists on real scale pointers (INVALID_VALUE without them), so the
  // first call's pointers are set before the query; later calls overwrite them.
  const Plan& plan(const GemmDescription& description, const float* a_scales = nullptr,
                   const float* b_scales = nullptr) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = plans_.find(description);
    if (found != plans_.end()) return found->second;
    return plans_.emplace(description, make_plan(description, a_scales, b_scales)).first->second;
  }

  void run(const Plan& plan, const void* a, const void* b, void* c, cudaStream_t stream) {
    const float alpha = 1.0f, beta = 0.0f;
    DSINFER_CUBLAS_CHECK(cublasLtMatmul(handle_, plan.operation, &alpha, a, plan.a_layout, b, plan.b_layout, &beta,
                                        c, plan.c_layout, c, plan.c_layout, &plan.algorithm, workspace_.data(),
                                        kWorkspaceBytes, stream));
  }

 private:
  Plan make_plan(const GemmDescription& description, const float* a_scales, const float* b_scales) {
    const BatchedGemmShape& shape = description.shape;
    Plan plan;
    cudaDataType_t input_type = description.fp8_blockwise ? CUDA_R_8F_E4M3 : CUDA_R_16BF;
    cudaDataType_t output_type = description.output_dtype == DType::kF32 ? CUDA_R_32F : CUDA_R_16BF;
    DSINFER_CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan.operation, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t transpose_a = shape.transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t transpose_b = shape.transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    DSINFER_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.operation, CUBLASLT_MATMUL_DESC_TRANSA, &transpose_a,
                                                        sizeof(transpose_a)));
    DSINFER_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.operation, CUBLASLT_MATMUL_DESC_TRANSB, &transpose_b,
                                                        sizeof(transpose_b)));
    if (description.fp8_blockwise) {
      int32_t a_mode = CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F;
      int32_t b_mode = CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F;
      DSINFER_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.operation, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &a_mode,
                                                          sizeof(a_mode)));
      DSINFER_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.operation, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &b_mode,
                                                          sizeof(b_mode)));
      DSINFER_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.operation, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER,
                                                          &a_scales, sizeof(a_scales)));
      DSINFER_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.operation, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER,
                                                          &b_scales, sizeof(b_scales)));
    }
    int64_t a_rows = shape.transpose_a ? shape.k : shape.m, a_columns = shape.transpose_a ? shape.m : shape.k;
    int64_t b_rows = shape.transpose_b ? shape.n : shape.k, b_columns = shape.transpose_b ? shape.k : shape.n;
    plan.a_layout = make_layout(input_type, a_rows, a_columns, shape.lda, shape.batch, shape.stride_a);
    plan.b_layout = make_layout(input_type, b_rows, b_columns, shape.ldb, shape.batch, shape.stride_b);
    plan.c_layout = make_layout(output_type, shape.m, shape.n, shape.ldc, shape.batch, shape.stride_c);

    cublasLtMatmulPreference_t preference = nullptr;
    DSINFER_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&preference));
    size_t workspace_bytes = kWorkspaceBytes;
    DSINFER_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                              &workspace_bytes, sizeof(workspace_bytes)));
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(handle_, plan.operation, plan.a_layout, plan.b_layout,
                                                           plan.c_layout, plan.c_layout, preference, 1, &result, &found);
    cublasLtMatmulPreferenceDestroy(preference);
    if (status == CUBLAS_STATUS_SUCCESS && found > 0) {
      plan.supported = true;
      plan.algorithm = result.algo;
    } else if (status != CUBLAS_STATUS_NOT_SUPPORTED && status != CUBLAS_STATUS_SUCCESS &&
               !(description.fp8_blockwise && status == CUBLAS_STATUS_INVALID_VALUE)) {
      // (The block-scaled FP8 heuristic answers INVALID_VALUE for shapes it cannot tile; the caller then
      // takes the hand-written kernel, which the GPU tests check against the CPU twin.)
      DSINFER_CUBLAS_CHECK(status);
    }
    return plan;
  }

  cublasLtHandle_t handle_ = nullptr;
  Tensor workspace_;
  std::mutex mutex_;
  std::map<GemmDescription, Plan> plans_;
};

Cublaslt& cublaslt() {
  static Cublaslt* instance = new Cublaslt();  // lives until exit, like the device pool it draws from
  return *instance;
}

// out[m, n] = a[m, k] . weight[n, k]^T  ==  (column-major) D[n, m] = W^T[n, k] . A[k, m]
BatchedGemmShape row_major_weight_transposed(int64_t m, int64_t n, int64_t k) {
  BatchedGemmShape shape;
  shape.transpose_a = true;
  shape.m = n;
  shape.n = m;
  shape.k = k;
  shape.lda = k;
  shape.ldb = k;
  shape.ldc = n;
  return shape;
}

}  // namespace

void gemm_bf16(const void* a, const void* weight, void* out, DType out_dtype, int64_t m, int64_t n, int64_t k,
               cudaStream_t stream) {
  DSINFER_CHECK(m > 0 && n > 0 && k > 0, "gemm_bf16: empty shape m=", m, " n=", n, " k=", k);
  DSINFER_CHECK(out_dtype == DType::kBF16 || out_dtype == DType::kF32, "gemm_bf16: output dtype ",
                dtype_name(out_dtype), " is not BF16 or F32");
  GemmDescription description{false, out_dtype, row_major_weight_transposed(m, n, k)};
  const Plan& plan = cublaslt().plan(description);
  DSINFER_CHECK(plan.supported, "cuBLASLt has no BF16 GEMM algorithm for m=", m, " n=", n, " k=", k);
  cublaslt().run(plan, weight, a, out, stream);
}

void gemm_bf16_batched(const BatchedGemmShape& shape, const void* a, const void* b, void* c, cudaStream_t stream) {
  DSINFER_CHECK(shape.m > 0 && shape.n > 0 && shape.k > 0 && shape.batch > 0, "gemm_bf16_batched: empty shape m=",
                shape.m, " n=", shape.n, " k=", shape.k, " batch=", shape.batch);
  GemmDescription description{false, DType::kBF16, shape};
  const Plan& plan = cublaslt().plan(description);
  DSINFER_CHECK(plan.supported, "cuBLASLt has no batched BF16 GEMM algorithm for m=", shape.m, " n=", shape.n,
                " k=", shape.k, " lda=", shape.lda, " ldb=", shape.ldb, " ldc=", shape.ldc);
  if (kernel_skipped_for_profiling("cublaslt_batched")) return;
  cublaslt().run(plan, a, b, c, stream);
}

bool gemm_fp8_blockwise(const void* a, const float* a_scales, const void* weight, const float* weight_scales,
                        void* out, int64_t m, int64_t n, int64_t k, cudaStream_t stream) {
  DSINFER_CHECK(m > 0 && n > 0 && k > 0, "gemm_fp8_blockwise: empty shape m=", m, " n=", n, " k=", k);
  if (m % 4 != 0 || k % 16 != 0 || n % 16 != 0) return false;
  GemmDescription description{true, DType::kBF16, row_major_weight_transposed(m, n, k)};
  const Plan& plan = cublaslt().plan(description, weight_scales, a_scales);
  if (!plan.supported) return false;
  // Scale pointers change per call; the descriptor is only read by cublasLtMatmul, on this thread.
  DSINFER_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.operation, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER,
                                                      &weight_scales, sizeof(weight_scales)));
  DSINFER_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.operation, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER,
                                                      &a_scales, sizeof(a_scales)));
  cublaslt().run(plan, weight, a, out, stream);
  return true;
}

}  // namespace dsinfer::cuda
