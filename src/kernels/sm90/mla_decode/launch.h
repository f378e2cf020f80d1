// Launchers of the MLA decode kernels, one translation unit per variant so they compile in parallel.
#pragma once

#include <cuda_runtime.h>

#include "kernels/sm90/mla_decode/params.h"

namespace dsinfer::cuda::mla_decode {

// Tiled tensor-core kernel: latent 512, rope 64, page 64; kHeadsPerBlock in {16, 32, 64}.
template <int kHeadsPerBlock>
void launch_tiled(const MlaDecodeParams& params, cudaStream_t stream);

// Any latent / rope size up to 1024 values and any page size; one warp per (head, split, sequence).
void launch_generic(const MlaDecodeParams& params, cudaStream_t stream);

// Merges the split parts of sequences with more than one active split into `out`.
void launch_combine(const MlaDecodeParams& params, cudaStream_t stream);

}  // namespace dsinfer::cuda::mla_decode
