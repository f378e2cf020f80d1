// Absorbed MLA decode on CUDA:
//   q_latent[b, h] = q_nope[b, h] . W_UK[h]          cuBLASLt strided-batched over heads   [B, heads, latent]
//   o_latent       = MLA decode kernel over the paged cache (split-KV + combine)         [B, heads, latent]
//   output[b, h]   = W_UV[h] . o_latent[b, h]         cuBLASLt strided-batched over heads   [B, heads, v]
#include "kernels/gemm/cublaslt_gemm.h"
#include "kernels/runtime/scratch.h"
#include "kernels/sm90/mla_decode/mla_decode.h"
#include "kernels/runtime/op_timing.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/cuda_ops.h"

namespace dsinfer::ops::cuda {

void mla_decode_attention(const Tensor& q, const Tensor& kv_cache, const Tensor& w_uk, const Tensor& w_uv,
                          const AttentionBatch& batch, double softmax_scale, Tensor& output) {
  dsinfer::cuda::OpTimer timer("mla_decode_attention");
  using dsinfer::cuda::ScratchSlot;
  for (const Tensor* tensor : std::initializer_list<const Tensor*>{&q, &kv_cache, &w_uk, &w_uv, &output})
    require_dtype("mla_decode_attention", *tensor, DType::kBF16);
  const int64_t sequences = q.dim(0), heads = q.dim(1), qk_dim = q.dim(2);
  const int64_t nope_dim = w_uk.dim(1), latent_dim = w_uk.dim(2), v_dim = w_uv.dim(1), rope_dim = qk_dim - nope_dim;
  if (sequences == 0) return;
  cudaStream_t stream = dsinfer::cuda::current_stream();
  auto* q_latent = dsinfer::cuda::scratch_as<__nv_bfloat16>(ScratchSlot::kAttentionQuery, sequences * heads * latent_dim);
  auto* o_latent = dsinfer::cuda::scratch_as<__nv_bfloat16>(ScratchSlot::kAttentionValue, sequences * heads * latent_dim);

  // Column-major view per head h: q_latent^T [latent, B] = W_UK[h]^T-as-stored [latent, nope] . q_nope^T [nope, B].
  dsinfer::cuda::BatchedGemmShape absorb;
  absorb.m = latent_dim;
  absorb.n = sequences;
  absorb.k = nope_dim;
  absorb.lda = latent_dim;            // W_UK[h] row-major [nope, latent] = column-major [latent, nope]
  absorb.stride_a = nope_dim * latent_dim;
  absorb.ldb = heads * qk_dim;        // q row-major [B, heads, qk]: column b of head h at b * heads * qk + h * qk
  absorb.stride_b = qk_dim;
  absorb.ldc = heads * latent_dim;    // q_latent [B, heads, latent]
  absorb.stride_c = latent_dim;
  absorb.batch = static_cast<int>(heads);
  dsinfer::cuda::gemm_bf16_batched(absorb, w_uk.data(), q.data(), q_latent, stream);

  const int splits = dsinfer::cuda::mla_decode_num_splits(static_cast<int>(sequences), static_cast<int>(heads),
                                                          dsinfer::cuda::multiprocessor_count());
  dsinfer::cuda::MlaDecodeParams params{};
  params.q_latent = q_latent;
  params.q_rope = static_cast<const __nv_bfloat16*>(q.data()) + nope_dim;
  params.q_latent_batch_stride = heads * latent_dim;
  params.q_latent_head_stride = latent_dim;
  params.q_rope_batch_stride = heads * qk_dim;
  params.q_rope_head_stride = qk_dim;
  params.kv_cache = static_cast<const __nv_bfloat16*>(kv_cache.data());
  params.page_table = batch.page_table.data_as<const int32_t>();
  params.page_table_stride = static_cast<int>(batch.page_table.dim(1));
  params.seq_lens = batch.kv_length.data_as<const int32_t>();
  params.out = o_latent;
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

  // Column-major view per head h: output^T [v, B] = (W_UV[h] column-major [latent, v])^T . o_latent^T [latent, B].
  dsinfer::cuda::BatchedGemmShape expand;
  expand.transpose_a = true;
  expand.m = v_dim;
  expand.n = sequences;
  expand.k = latent_dim;
  expand.lda = latent_dim;
  expand.stride_a = v_dim * latent_dim;
  expand.ldb = heads * latent_dim;
  expand.stride_b = latent_dim;
  expand.ldc = heads * v_dim;
  expand.stride_c = v_dim;
  expand.batch = static_cast<int>(heads);
  dsinfer::cuda::gemm_bf16_batched(expand, w_uv.data(), o_latent, output.data(), stream);
}

}  // namespace dsinfer::ops::cuda
