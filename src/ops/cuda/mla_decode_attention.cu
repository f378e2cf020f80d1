// Absorbed MLA decode on CUDA:
//   q_latent[b, h] = q_nope[b, h] . W_UK[h]          per-head batched GEMM   [B, heads, latent]
//   o_latent       = MLA decode kernel over the paged cache (split-KV + combine)         [B, heads, latent]
//   output[b, h]   = W_UV[h] . o_latent[b, h]         per-head batched GEMM   [B, heads, v]
// BF16: the per-head products are the skinny kernel batched over heads for up to 8 sequences (programmatic
// dependent launch keeps the decode chain overlapped), cuBLASLt strided-batched GEMMs above. F32 (the
// F32-activation mode): everything is F32 and the products run on the CUDA-core F32 GEMM.
#include "kernels/gemm/cublaslt_gemm.h"
#include "kernels/runtime/scratch.h"
#include "kernels/sm90/gemm/float_gemm.h"
#include "kernels/sm90/mla_decode/mla_decode.h"
#include "kernels/runtime/op_timing.h"
#include "kernels/sm90/gemm/skinny_gemm.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/cuda_ops.h"

namespace dsinfer::ops::cuda {

namespace {

// Per head h (one batch item of the skinny kernel): out[b, h, :] = W[h] . a[b, h, :] for every sequence b, W[h]
// [n, k] row-major BF16; A rows (sequences) `a_row_bytes` apart, heads `a_head_bytes` apart.
void per_head_skinny(const void* a, int64_t a_head_bytes, int64_t a_row_bytes, const Tensor& weights, int64_t sequences,
                     int64_t heads, void* out, cudaStream_t stream) {
  const int64_t n = weights.dim(1), k = weights.dim(2);
  dsinfer::cuda::SkinnyGemmParams params{};
  params.a = a;
  params.k = k;
  params.rows = sequences;
  params.a_row_bytes = a_row_bytes;
  params.a_batch_bytes = a_head_bytes;
  params.batch_count = static_cast<int>(heads);
  params.weight_batch_bytes = n * k * 2;
  params.out_batch_stride = n;
  params.out_row_stride = heads * n;
  params.projections[0].weight = weights.data();
  params.projections[0].n = n;
  params.projections[0].out = out;
  params.projection_count = 1;
  dsinfer::cuda::skinny_gemm(params, /*fp8=*/false, stream);
}

// The skinny kernel reads 16-byte vectors: k a multiple of 8 BF16 values and 16-byte head and row strides of A
// (DeepSeek's 128 / 192 / 512-wide heads always are; another config takes cuBLASLt instead of an error).
bool per_head_skinny_applies(int64_t sequences, int64_t k, int64_t a_head_bytes, int64_t a_row_bytes) {
  return sequences <= dsinfer::cuda::kSkinnyMaxRows && k % 8 == 0 && a_head_bytes % 16 == 0 && a_row_bytes % 16 == 0;
}

// out[b, h, :] = W[h] . a[b, h, :] for every sequence b and head h (the absorbed products: W_UK on the query's
// nope part, W_UV on the attention's latent output). W [heads, n, k] row-major; a's row b of head h starts at
// a + b * a_row_stride + h * a_head_stride (elements); out [B, heads, n] contiguous; `dtype` of a, W and out.
void per_head_product(const void* a, int64_t a_row_stride, int64_t a_head_stride, const Tensor& weights,
                      int64_t sequences, void* out, DType dtype, cudaStream_t stream) {
  const int64_t heads = weights.dim(0), n = weights.dim(1), k = weights.dim(2);
  if (dtype == DType::kF32) {
    dsinfer::cuda::FloatGemmShape shape;  // batch h: C[b, r] = sum_c A[b, c] * B(r, c), B(r, c) = W[h, r, c]
    shape.m = sequences;
    shape.n = n;
    shape.k = k;
    shape.a_row_stride = a_row_stride;
    shape.a_batch_stride = a_head_stride;
    shape.b_n_stride = k;
    shape.b_k_stride = 1;
    shape.b_batch_stride = n * k;
    shape.c_row_stride = heads * n;
    shape.c_batch_stride = n;
    shape.batch = static_cast<int>(heads);
    dsinfer::cuda::gemm_float(shape, static_cast<const float*>(a), weights.data(), DType::kF32, out, DType::kF32,
                              stream);
    return;
  }
  if (per_head_skinny_applies(sequences, k, a_head_stride * 2, a_row_stride * 2)) {
    per_head_skinny(a, a_head_stride * 2, a_row_stride * 2, weights, sequences, heads, out, stream);
    return;
  }
  // Column-major view per head h: out^T [n, B] = (W[h] column-major [k, n])^T . a^T [k, B].
  dsinfer::cuda::BatchedGemmShape shape;
  shape.transpose_a = true;
  shape.m = n;
  shape.n = sequences;
  shape.k = k;
  shape.lda = k;  // W[h] row-major [n, k] = column-major [k, n]
  shape.stride_a = n * k;
  shape.ldb = a_row_stride;  // column b of head h at b * a_row_stride + h * a_head_stride
  shape.stride_b = a_head_stride;
  shape.ldc = heads * n;  // out [B, heads, n]
  shape.stride_c = n;
  shape.batch = static_cast<int>(heads);
  dsinfer::cuda::gemm_bf16_batched(shape, weights.data(), a, out, stream);
}

}  // namespace

void mla_decode_attention(const Tensor& q, const Tensor& kv_cache, const Tensor& w_uk, const Tensor& w_uv,
                          const AttentionBatch& batch, double softmax_scale, Tensor& output) {
  dsinfer::cuda::OpTimer timer("mla_decode_attention");
  using dsinfer::cuda::ScratchSlot;
  const DType dtype = q.dtype();
  DSINFER_CHECK(dtype == DType::kBF16 || dtype == DType::kF32, "ops::mla_decode_attention on CUDA takes BF16 or F32, got ",
                q.describe());
  for (const Tensor* tensor : std::initializer_list<const Tensor*>{&kv_cache, &w_uk, &w_uv, &output})
    require_dtype("mla_decode_attention (every tensor in the query's dtype)", *tensor, dtype);
  const bool f32 = dtype == DType::kF32;
  const int64_t sequences = q.dim(0), heads = q.dim(1), qk_dim = q.dim(2);
  const int64_t latent_dim = w_uk.dim(1), nope_dim = w_uk.dim(2), rope_dim = qk_dim - nope_dim;
  if (sequences == 0) return;
  cudaStream_t stream = dsinfer::cuda::current_stream();
  const size_t element_bytes = f32 ? sizeof(float) : 2;
  void* q_latent = dsinfer::cuda::scratch(ScratchSlot::kAttentionQuery, sequences * heads * latent_dim * element_bytes);
  void* o_latent = dsinfer::cuda::scratch(ScratchSlot::kAttentionValue, sequences * heads * latent_dim * element_bytes);
  // q_latent [B, heads, latent] = per head h: W_UK[h] [latent, nope] . q_nope [B, nope] (row stride heads * qk).
  per_head_product(q.data(), heads * qk_dim, qk_dim, w_uk, sequences, q_latent, dtype, stream);

  const int splits = dsinfer::cuda::mla_decode_num_splits(static_cast<int>(sequences), static_cast<int>(heads),
                                                          dsinfer::cuda::multiprocessor_count());
  dsinfer::cuda::MlaDecodeParams params{};
  params.q_latent = q_latent;
  params.q_rope = static_cast<const uint8_t*>(q.data()) + nope_dim * element_bytes;
  params.q_latent_batch_stride = heads * latent_dim;
  params.q_latent_head_stride = latent_dim;
  params.q_rope_batch_stride = heads * qk_dim;
  params.q_rope_head_stride = qk_dim;
  params.kv_cache = kv_cache.data();
  params.page_table = batch.page_table.data_as<const int32_t>();
  params.page_table_stride = static_cast<int>(batch.page_table.dim(1));
  params.seq_lens = batch.kv_length.data_as<const int32_t>();
  params.out = o_latent;
  params.f32 = f32;
  if (splits > 1) {
    float* partials = dsinfer::cuda::scratch_as<float>(
        ScratchSlot::kAttentionPartials,
        dsinfer::cuda::mla_decode_workspace_floats(static_cast<int>(sequences), static_cast<int>(heads),
                                                   static_cast<int>(latent_dim), splits));
    params.partial_out = partials;
    params.partial_lse = partials + sequences * splits * heads * latent_dim;
  }
  params.batch = static_cast<int>(sequences);
  params.num_heads = static_cast<int>(heads);
  params.latent_dim = static_cast<int>(latent_dim);
  params.rope_dim = static_cast<int>(rope_dim);
  params.page_size = static_cast<int>(kv_cache.dim(1));
  params.num_splits = splits;
  params.softmax_scale = static_cast<float>(softmax_scale);
  dsinfer::cuda::run_mla_decode(params, stream);
  // output [B, heads, v] = per head h: W_UV[h] [v, latent] . o_latent [B, latent] (row stride heads * latent).
  per_head_product(o_latent, heads * latent_dim, latent_dim, w_uv, sequences, output.data(), dtype, stream);
}

}  // namespace dsinfer::ops::cuda
