#include "ops/cpu/matmul.h"

#include <algorithm>
#include <vector>

#include "core/thread_pool.h"
#include "ops/cpu/float_rows.h"
#include "ops/cpu/fp8_group.h"
#include "ops/quantize_fp8.h"

namespace dsinfer::ops::cpu {

namespace {

constexpr int64_t kTileRows = 8;  // weight rows dequantized at once, reused against every input row

// tile[r][k] = W[first_row + r][k] as float, for r < count.
void dequantize_rows(const LinearWeight& weight, int64_t first_row, int64_t count, float* tile) {
  const int64_t columns = weight.in_features();
  if (!weight.is_fp8()) {
    read_as_float(weight.weight, first_row * columns, count * columns, tile);
    return;
  }
  const uint8_t* codes = weight.weight.data_as<const uint8_t>();
  const float* scales = weight.scale_inv.data_as<const float>();
  const int64_t scale_columns = weight.scale_inv.dim(1);
  for (int64_t r = 0; r < count; ++r) {
    int64_t row = first_row + r;
    const uint8_t* code_row = codes + row * columns;
    const float* scale_row = scales + (row / weight.block_rows) * scale_columns;
    float* out = tile + r * columns;
    for (int64_t k = 0; k < columns; ++k) {
      out[k] = fp8_e4m3_to_float(fp8_e4m3{code_row[k]}) * scale_row[k / weight.block_cols];
    }
  }
}

// out[r] = x . tile[r] for r < count: four weight rows at a time, so x is loaded once per four products and
// the four sums are independent chains. Compiled for AVX-512, AVX2 and baseline x86-64, chosen at load time.
#if defined(__x86_64__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
void dot_tile_rows(const float* x, const float* tile, int64_t columns, int64_t count, float* out) {
  int64_t r = 0;
  for (; r + 4 <= count; r += 4) {
    const float *w0 = tile + r * columns, *w1 = w0 + columns, *w2 = w1 + columns, *w3 = w2 + columns;
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (int64_t k = 0; k < columns; ++k) {
      s0 += x[k] * w0[k];
      s1 += x[k] * w1[k];
      s2 += x[k] * w2[k];
      s3 += x[k] * w3[k];
    }
    out[r] = s0;
    out[r + 1] = s1;
    out[r + 2] = s2;
    out[r + 3] = s3;
  }
  for (; r < count; ++r) out[r] = dot(x, tile + r * columns, columns);
}

}  // namespace

void fake_quantize_fp8_groups(const float* input, int64_t rows, int64_t columns, float* output) {
  uint8_t codes[kFp8ActivationGroup];
  for (int64_t t = 0; t < rows; ++t) {
    for (int64_t begin = 0; begin < columns; begin += kFp8ActivationGroup) {
      int64_t count = std::min<int64_t>(kFp8ActivationGroup, columns - begin);
      double scale = quantize_fp8_group(input + t * columns + begin, count, codes);
      float* out = output + t * columns + begin;
      for (int64_t k = 0; k < count; ++k) out[k] = static_cast<float>(fp8_e4m3_to_float(fp8_e4m3{codes[k]}) * scale);
    }
  }
}

void matmul_weight_transposed(const float* input, int64_t rows, const LinearWeight& weight, float* output,
                              bool quantize_activations) {
  const int64_t columns = weight.in_features(), outputs = weight.out_features();
  if (rows == 0) return;
  std::vector<float> quantized;
  if (quantize_activations && weight.is_fp8()) {
    quantized.resize(static_cast<size_t>(rows * columns));
    fake_quantize_fp8_groups(input, rows, columns, quantized.data());
    input = quantized.data();
  }
  // Enough output features per task that a task's work dwarfs the hand-off (~1e5 multiply-adds).
  int64_t grain = std::max<int64_t>(kTileRows, 100000 / std::max<int64_t>(1, rows * columns) / kTileRows * kTileRows);
  parallel_for(outputs, grain, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> tile;
    tile.resize(static_cast<size_t>(kTileRows * columns));
    for (int64_t first = begin; first < end; first += kTileRows) {
      int64_t count = std::min(kTileRows, end - first);
      dequantize_rows(weight, first, count, tile.data());
      for (int64_t t = 0; t < rows; ++t) dot_tile_rows(input + t * columns, tile.data(), columns, count, output + t * outputs + first);
    }
  });
}

}  // namespace dsinfer::ops::cpu
