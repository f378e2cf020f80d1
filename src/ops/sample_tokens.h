// sample_tokens: temperature, top-k and top-p (nucleus) sampling of one token per logits row, on the logits'
// device, so a decode step sends only token ids to the host. The draw is counter-based (ops/fill_random.h's
// random_unit), so both backends pick the same token for the same seed. The exact rule:
//   temperature <= 0: the argmax (ties: the lower id)
//   x = logits / temperature, w = exp(x - max x)
//   top_k in (0, V): keep ids with x >= the k-th largest x (ties at the threshold are all kept)
//   top_p < 1: among those, keep ids with w >= tau, tau the largest kept w such that the kept mass at or above
//              tau is >= top_p * the kept mass
//   u = random_unit(seed, 0); pick the first id (vocabulary order) whose running kept mass exceeds u * kept mass
#pragma once

#include "core/tensor.h"

namespace dsinfer::ops {

// logits [R, V] F32; temperature [R] F32; top_k [R] I32 (<= 0: no limit); top_p [R] F32 in (0, 1];
// seeds [R] U64; ids [R] I32. All on one device.
void sample_tokens(const Tensor& logits, const Tensor& temperature, const Tensor& top_k, const Tensor& top_p,
                   const Tensor& seeds, Tensor& ids);

}  // namespace dsinfer::ops
