// MLA decode, tiled kernel with 32 query heads per CTA.
#include "kernels/sm90/mla_decode/tiled_launch.cuh"

namespace dsinfer::cuda::mla_decode {
template void launch_tiled<32>(const MlaDecodeParams& params, cudaStream_t stream);
}  // namespace dsinfer::cuda::mla_decode
