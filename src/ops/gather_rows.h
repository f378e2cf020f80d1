// gather_rows: output[i] = source[indices[i]], converting the element type. This is the embedding lookup
// (source = embed_tokens [vocab, hidden] in the checkpoint dtype) and the selection of the hidden rows that
// need logits (source = final hidden states).
#pragma once

#include "core/tensor.h"

namespace dsinfer::ops {

// source  [N, D]  BF16 / F32 (any float dtype the backend reads)
// indices [R]     I32, each in [0, N); the caller validates (token ids are checked on the host)
// output  [R, D]  activation dtype
void gather_rows(const Tensor& source, const Tensor& indices, Tensor& output);

}  // namespace dsinfer::ops
