// Definition of launch_tiled<kHeadsPerBlock>, explicitly instantiated once per variant file.
#pragma once

#include "kernels/common/cuda_check.h"
#include "kernels/common/launch.cuh"
#include "kernels/sm90/mla_decode/launch.h"
#include "kernels/sm90/mla_decode/mla_decode_kernel.cuh"

namespace dsinfer::cuda::mla_decode {

template <int kHeadsPerBlock>
void launch_tiled(const MlaDecodeParams& params, cudaStream_t stream) {
  constexpr int kShared = shared_bytes(kHeadsPerBlock);
  static bool configured = [] {
    DSINFER_CUDA_CHECK(cudaFuncSetAttribute(mla_decode_tiled_kernel<kHeadsPerBlock>,
                                            cudaFuncAttributeMaxDynamicSharedMemorySize, kShared));
    return true;
  }();
  (void)configured;
  dim3 grid((params.num_heads + kHeadsPerBlock - 1) / kHeadsPerBlock, params.num_splits, params.batch);
  launch_kernel("mla_decode_tiled_kernel", mla_decode_tiled_kernel<kHeadsPerBlock>, grid, kThreads, kShared, stream,
                params);
}

}  // namespace dsinfer::cuda::mla_decode
