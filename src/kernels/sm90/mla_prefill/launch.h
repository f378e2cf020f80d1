// Launchers of the MLA prefill attention kernels.
#pragma once

#include "kernels/sm90/mla_prefill/mla_prefill.h"

namespace dsinfer::cuda::mla_prefill {

bool supports_tiled(const MlaPrefillParams& params);
void launch_tiled(const MlaPrefillParams& params, cudaStream_t stream);    // tiled.cu
void launch_generic(const MlaPrefillParams& params, cudaStream_t stream);  // generic.cu

}  // namespace dsinfer::cuda::mla_prefill
