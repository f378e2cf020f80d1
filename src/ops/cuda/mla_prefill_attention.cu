// Un-absorbed MLA prefill on CUDA:
//   gather each sequence's cache entries                     latents [S * kv_stride, latent], rope keys
//   expanded = linear(latents, kv_b_proj)                    [S * kv_stride, heads, nope + v]  (W8A8 for FP8)
//   causal attention per head over the expanded keys/values  output [T, heads, v]
#include "kernels/runtime/scratch.h"
#include "kernels/sm90/mla_prefill/mla_prefill.h"
#include "kernels/runtime/op_timing.h"
#include "ops/cuda/common.cuh"
#include "ops/cuda/cuda_ops.h"

namespace dsinfer::ops::cuda {

void mla_prefill_attention(const Tensor& q, const Tensor& kv_cache, const LinearWeight& kv_b_proj,
                           const AttentionBatch& batch, double softmax_scale, Tensor& output,
                           bool quantize_activations) {
  dsinfer::cuda::OpTimer timer("mla_prefill_attention");
  using dsinfer::cuda::ScratchSlot;
  require_dtype("mla_prefill_attention", q, DType::kBF16);
  require_dtype("mla_prefill_attention", kv_cache, DType::kBF16);
  require_dtype("mla_prefill_attention", output, DType::kBF16);
  const int64_t heads = q.dim(1), qk_dim = q.dim(2), v_dim = output.dim(2);
  const int64_t latent_dim = kv_b_proj.in_features(), rope_dim = kv_cache.dim(2) - latent_dim;
  const int64_t nope_dim = qk_dim - rope_dim;
  DSINFER_CHECK(kv_b_proj.out_features() == heads * (nope_dim + v_dim), "ops::mla_prefill_attention: kv_b_proj ",
                kv_b_proj.weight.describe(), " should have ", heads * (nope_dim + v_dim), " rows");
  if (batch.num_sequences == 0 || q.dim(0) == 0) return;
  cudaStream_t stream = dsinfer::cuda::current_stream();
  const int64_t kv_stride = batch.max_kv_length, key_rows = batch.num_sequences * kv_stride;

  auto* latents = dsinfer::cuda::scratch_as<__nv_bfloat16>(ScratchSlot::kAttentionQuery, key_rows * (latent_dim + rope_dim));
  __nv_bfloat16* rope_keys = latents + key_rows * latent_dim;
  dsinfer::cuda::gather_mla_latents(static_cast<const __nv_bfloat16*>(kv_cache.data()), static_cast<int>(kv_cache.dim(1)),
                                    batch.page_table.data_as<const int32_t>(), static_cast<int>(batch.page_table.dim(1)),
                                    batch.kv_length.data_as<const int32_t>(), batch.num_sequences,
                                    static_cast<int>(kv_stride), static_cast<int>(latent_dim), static_cast<int>(rope_dim),
                                    latents, rope_keys, stream);
  const int64_t expanded_width = heads * (nope_dim + v_dim);
  auto* expanded = dsinfer::cuda::scratch_as<__nv_bfloat16>(ScratchSlot::kAttentionValue, key_rows * expanded_width);
  Tensor latent_view = Tensor::view(latents, {key_rows, latent_dim}, DType::kBF16, Device::kCuda);
  Tensor expanded_view = Tensor::view(expanded, {key_rows, expanded_width}, DType::kBF16, Device::kCuda);
  ops::cuda::linear(latent_view, kv_b_proj, expanded_view, quantize_activations);

  dsinfer::cuda::MlaPrefillParams params{};
  params.q = static_cast<const __nv_bfloat16*>(q.data());
  params.query_start = batch.query_start.data_as<const int32_t>();
  params.kv_length = batch.kv_length.data_as<const int32_t>();
  params.expanded = expanded;
  params.rope_keys = rope_keys;
  params.kv_stride = static_cast<int>(kv_stride);
  params.out = static_cast<__nv_bfloat16*>(output.data());
  params.sequences = batch.num_sequences;
  params.heads = static_cast<int>(heads);
  params.nope_dim = static_cast<int>(nope_dim);
  params.rope_dim = static_cast<int>(rope_dim);
  params.v_dim = static_cast<int>(v_dim);
  params.max_query_length = batch.max_query_length;
  params.softmax_scale = static_cast<float>(softmax_scale);
  dsinfer::cuda::run_mla_prefill(params, stream);
}

}  // namespace dsinfer::ops::cuda
