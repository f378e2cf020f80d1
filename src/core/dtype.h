// Element types and scalar conversions shared by every backend.
// BF16 and FP8 e4m3 (OCP "e4m3fn": no infinities, max 448) are stored as raw bits; math is done in float.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace dsinfer {

enum class DType : uint8_t { kBool, kU8, kI8, kI16, kU16, kI32, kU32, kI64, kU64, kF8E4M3, kF8E5M2, kF16, kBF16, kF32, kF64 };

// Bytes per element.
size_t dtype_size(DType dtype);
// Safetensors spelling ("BF16", "F8_E4M3", ...).
std::string_view dtype_name(DType dtype);
// Parses a safetensors dtype name; returns false for an unknown name.
bool parse_dtype(std::string_view name, DType* out);

struct bf16 {
  uint16_t bits;
};
struct fp8_e4m3 {
  uint8_t bits;
};

inline float bf16_to_float(bf16 value) {
  uint32_t word = static_cast<uint32_t>(value.bits) << 16;
  float result;
  std::memcpy(&result, &word, sizeof(result));
  return result;
}

// Round to nearest even; NaN stays NaN.
inline bf16 float_to_bf16(float value) {
  uint32_t word;
  std::memcpy(&word, &value, sizeof(word));
  if ((word & 0x7fffffffu) > 0x7f800000u) return bf16{static_cast<uint16_t>((word >> 16) | 0x40)};
  uint32_t rounding = 0x7fffu + ((word >> 16) & 1u);
  return bf16{static_cast<uint16_t>((word + rounding) >> 16)};
}

float f16_to_float(uint16_t bits);
uint16_t float_to_f16(float value);

// e4m3fn decode through a 256-entry table.
float fp8_e4m3_to_float(fp8_e4m3 value);
// Round to nearest even, saturating to +-448 (as PyTorch's float8_e4m3fn cast does for finite inputs
// that were scaled into range); NaN becomes the e4m3 NaN (0x7f).
fp8_e4m3 float_to_fp8_e4m3(float value);

}  // namespace dsinfer
