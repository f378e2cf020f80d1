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
  // BF16 throughout, or F32 throughout (the F32-activation mode).
  const DType dtype = q.dtype();
  DSINFER_CHECK((dtype == DType::kBF16 || dtype == DType::kF32) && kv_cache.dtype() == dtype && output.dtype() == dtype,
                "ops::mla_prefill_attention on CUDA: q ", q.describe(), ", cache ", kv_cache.describe(), " and output ",
                output.describe(), " must all be BF16 or all F32");
  const bool f32 = dtype == DType::kF32;
  const size_t element_bytes = f32 ? sizeof(float) : 2;
  const int64_t heads = q.dim(1), qk_dim = q.dim(2), v_dim = output.dim(2);
  const int64_t latent_dim = kv_b_proj.in_features(), rope_dim = kv_cache.dim(2) - latent_dim;
  const int64_t nope_dim = qk_dim - rope_dim;
  DSINFER_CHECK(kv_b_proj.out_features() == heads * (nope_dim + v_dim), "ops::mla_prefill_attention: kv_b_proj ",
                kv_b_proj.weight.describe(), " should have ", heads * (nope_dim + v_dim), " rows");
  if (batch.num_sequences == 0 || q.dim(0) == 0) return;
  cudaStream_t stream = dsinfer::cuda::current_stream();
  const int64_t kv_stride = batch.max_kv_length, key_rows = batch.num_sequences * kv_stride;

  auto* latents = static_cast<uint8_t*>(
      dsinfer::cuda::scratch(ScratchSlot::kAttentionQuery, key_rows * (latent_dim + rope_dim) * element_bytes));
  uint8_t* rope_keys = latents + key_rows * latent_dim * element_bytes;
  dsinfer::cuda::gather_mla_latents(kv_cache.data(), f32, static_cast<int>(kv_cache.dim(1)),
                                    batch.page_table.data_as<const int32_t>(), static_cast<int>(batch.page_table.dim(1)),
                                    batch.kv_length.data_as<const int32_t>(), batch.num_sequences,
                                    static_cast<int>(kv_stride), static_cast<int>(latent_dim), static_cast<int>(rope_dim),
                                    latents, rope_keys, stream);
  const int64_t expanded_width = heads * (nope_dim + v_dim);
  void* expanded = dsinfer::cuda::scratch(ScratchSlot::kAttentionValue, key_rows * expanded_width * element_bytes);
  Tensor latent_view = Tensor::view(latents, {key_rows, latent_dim}, dtype, Device::kCuda);
  Tensor expanded_view = Tensor::view(expanded, {key_rows, expanded_width}, dtype, Device::kCuda);
  ops::cuda::linear(latent_view, kv_b_proj, expanded_view, quantize_activations);

  dsinfer::cuda::MlaPrefillParams params{};
  params.q = q.data();
  params.query_start = batch.query_start.data_as<const int32_t>();
  params.kv_length = batch.kv_length.data_as<const int32_t>();
  params.expanded = expanded;
  params.rope_keys = rope_keys;
  params.kv_stride = static_cast<int>(kv_stride);
  params.out = output.data();
  params.f32 = f32;
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
