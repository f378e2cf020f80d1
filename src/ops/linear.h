// linear: output = input x weight^T, the projection every layer is made of (and the lm_head).
#pragma once

#include "core/tensor.h"

namespace dsinfer::ops {

// One projection's weight, as the checkpoint stores it.
//   weight     [N, K]  BF16 or F32; or F8_E4M3 with weight_scale_inv set (DeepSeek block FP8)
//   scale_inv  [ceil(N / block_rows), ceil(K / block_cols)] F32, row-major; undefined unless weight is FP8.
//              The real weight is weight[n][k] * scale_inv[n / block_rows][k / block_cols] (edge blocks are
//              partial when N or K is not a multiple of the block).
struct LinearWeight {
  Tensor weight;
  Tensor scale_inv;
  int block_rows = 128;  // quantization_config weight_block_size[0], along N
  int block_cols = 128;  // weight_block_size[1], along K

  bool is_fp8() const { return weight.dtype() == DType::kF8E4M3; }
  int64_t out_features() const { return weight.dim(0); }  // N
  int64_t in_features() const { return weight.dim(1); }   // K
};

// input  [T, K]  activation dtype (F32 on the CPU backend, BF16 on CUDA)
// output [T, N]  activation dtype, or F32 (the router and the lm_head ask for F32 logits)
// quantize_activations: W8A8 for FP8 weights: the input is quantized per 1x128 group of K to e4m3 with
//   scale = max(amax / 448, 1e-10), round-to-nearest-even (see quantize_fp8.h), before the product. The CPU
//   backend honours the flag (emulation of the GPU numerics); the CUDA backend always runs FP8 weights as
//   W8A8. Ignored for BF16 / F32 weights.
// T may be 0. Rows of input and output must not overlap.
void linear(const Tensor& input, const LinearWeight& weight, Tensor& output, bool quantize_activations = false);

// Throws, naming op_name, unless input [T, K], weight [N, K] (FP8: with its scale_inv) and output [T, N] fit
// together. Shared by the linear ops (linear, linear_pair, silu_gated_linear).
void check_linear_shapes(const char* op_name, const Tensor& input, const LinearWeight& weight, const Tensor& output);

}  // namespace dsinfer::ops
