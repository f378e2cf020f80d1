#include "kernels/sm90/mla_decode/mla_decode.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/sm90/mla_decode/config.h"
#include "kernels/sm90/mla_decode/launch.h"

namespace dsinfer::cuda {

namespace {
int heads_per_block(int num_heads) { return num_heads <= 16 ? 16 : num_heads <= 32 ? 32 : 64; }

bool aligned_16(const void* pointer) { return reinterpret_cast<uintptr_t>(pointer) % 16 == 0; }
}  // namespace

// A short sequence uses fewer: mla_split_range caps the active splits at one page each (a 1K context at batch 1
// gets 16 of 64), the surplus CTAs exit after reading seq_lens, and the combine's cost is two dependent memory
// trips whatever the count. Fewer splits would give each CTA more pages to stream one after another, which is
// latency the batch-1 step pays, and would slow long contexts, which the same captured graph must serve.
int mla_decode_num_splits(int batch, int num_heads, int multiprocessor_count) {
  int head_blocks = (num_heads + heads_per_block(num_heads) - 1) / heads_per_block(num_heads);
  int ctas = std::max(1, batch * head_blocks);
  return std::clamp(multiprocessor_count / ctas, 1, mla_decode::kMaxSplits);
}

int64_t mla_decode_workspace_floats(int batch, int num_heads, int latent_dim, int num_splits) {
  return static_cast<int64_t>(batch) * num_splits * num_heads * (latent_dim + 1);
}

bool mla_decode_uses_tiled_kernel(const MlaDecodeParams& params) {
  return !params.f32 && params.latent_dim == mla_decode::kLatentDim && params.rope_dim == mla_decode::kRopeDim &&
         params.page_size == mla_decode::kPageSize && params.q_latent_head_stride % 8 == 0 &&
         params.q_latent_batch_stride % 8 == 0 && params.q_rope_head_stride % 8 == 0 &&
         params.q_rope_batch_stride % 8 == 0 && aligned_16(params.q_latent) && aligned_16(params.q_rope) &&
         aligned_16(params.kv_cache);
}

void run_mla_decode(const MlaDecodeParams& params, cudaStream_t stream) {
  DSINFER_CHECK(params.batch >= 0 && params.num_heads > 0 && params.latent_dim > 0 && params.rope_dim >= 0 &&
                    params.page_size > 0,
                "MLA decode: bad shape batch=", params.batch, " heads=", params.num_heads, " latent=",
                params.latent_dim, " rope=", params.rope_dim, " page=", params.page_size);
  DSINFER_CHECK(params.num_splits >= 1 && params.num_splits <= mla_decode::kMaxSplits, "MLA decode: num_splits ",
                params.num_splits, " outside [1, ", mla_decode::kMaxSplits, "]");
  DSINFER_CHECK(params.num_splits == 1 || (params.partial_out != nullptr && params.partial_lse != nullptr),
                "MLA decode: split-KV needs the partial_out / partial_lse workspace");
  if (params.batch == 0) return;
  if (mla_decode_uses_tiled_kernel(params)) {
    switch (heads_per_block(params.num_heads)) {
      case 16: mla_decode::launch_tiled<16>(params, stream); break;
      case 32: mla_decode::launch_tiled<32>(params, stream); break;
      default: mla_decode::launch_tiled<64>(params, stream); break;
    }
  } else {
    mla_decode::launch_generic(params, stream);
  }
  if (params.num_splits > 1) mla_decode::launch_combine(params, stream);
}

}  // namespace dsinfer::cuda
