// Absorbed MLA decode over the paged latent cache (FlashMLA's job): for each sequence's one new token and
// each head, out = softmax(scale * [q_latent, q_rope] . cache) . cache[:, :latent]. The work is split over
// the KV length (split-KV) so that small batches fill the GPU; a combine kernel merges the parts.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/sm90/mla_decode/params.h"

namespace dsinfer::cuda {

// Split-KV parts per sequence for a batch: as many as keep one wave of CTAs on the GPU, at most
// mla_decode::kMaxSplits. Depends only on the shapes, so a captured CUDA graph stays valid for any lengths.
int mla_decode_num_splits(int batch, int num_heads, int multiprocessor_count);

// Floats of workspace for partial_out (then partial_lse): batch * num_splits * num_heads * (latent_dim + 1).
int64_t mla_decode_workspace_floats(int batch, int num_heads, int latent_dim, int num_splits);

// Runs the tiled tensor-core kernel when latent 512, rope 64, page 64 and 16-byte aligned rows; the generic
// kernel otherwise; then the combine when num_splits > 1. Allocates nothing.
void run_mla_decode(const MlaDecodeParams& params, cudaStream_t stream);

// Whether run_mla_decode would take the tiled kernel for these parameters (tests and benchmarks report it).
bool mla_decode_uses_tiled_kernel(const MlaDecodeParams& params);

}  // namespace dsinfer::cuda
