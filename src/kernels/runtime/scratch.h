// Scratch: the temporaries of the CUDA ops (FP8-quantized activations, padded GEMM outputs, attention
// partials, MoE sort buffers). One persistent, grow-only buffer per purpose, taken from the device pool, so
// a steady-state step allocates nothing and a captured CUDA graph keeps pointing at live memory. Ops run in
// order on one stream, so two ops may use the same slot; one op uses distinct slots for its temporaries.
// Growing during CUDA graph capture is an error: warm up at the largest batch before capturing.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dsinfer::cuda {

enum class ScratchSlot {
  kQuantizedActivations,  // e4m3 copy of a linear's input
  kActivationScales,      // its 1x128 group scales
  kWeightScales,          // weight_scale_inv rows padded to 4 blocks for cuBLASLt
  kGemmOutput,            // padded-row GEMM output before the copy into the op's output
  kGatedUp,               // the up projection of silu_gated_linear when it runs as separate GEMMs
  kAttentionQuery,        // absorbed query / gathered latents
  kAttentionValue,        // attention output in latent space / expanded keys and values
  kAttentionPartials,     // split-KV partial outputs and log-sum-exps
  kMoeRouting,            // expert offsets, sorted slots
  kMoeRows,               // gathered / intermediate expert rows
  kMoeRowScales,          // their FP8 scales
  kMoeOutputs,            // expert outputs before the weighted combine
  kSampling,              // sampler temporaries (argmax_rows: its per-chunk keys)
  kArgmaxTickets,         // argmax_rows: per-row counters, zero between calls
  kCount
};

// Device memory of at least `bytes` for this slot, valid until the next call for the same slot with more bytes.
void* scratch(ScratchSlot slot, size_t bytes);

// Changes whenever any scratch buffer moves: a CUDA graph captured under another generation points at freed
// memory and must be captured again.
uint64_t scratch_generation();

template <typename T>
T* scratch_as(ScratchSlot slot, size_t count) {
  return static_cast<T*>(scratch(slot, count * sizeof(T)));
}

}  // namespace dsinfer::cuda
