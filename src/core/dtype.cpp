#include "core/dtype.h"

#include <array>
#include <cmath>

namespace dsinfer {

namespace {
struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;
};
constexpr std::array<DTypeInfo, 15> kDTypes = {{
    {DType::kBool, "BOOL", 1},     {DType::kU8, "U8", 1},   {DType::kI8, "I8", 1},
    {DType::kI16, "I16", 2},       {DType::kU16, "U16", 2}, {DType::kI32, "I32", 4},
    {DType::kU32, "U32", 4},       {DType::kI64, "I64", 8}, {DType::kU64, "U64", 8},
    {DType::kF8E4M3, "F8_E4M3", 1}, {DType::kF8E5M2, "F8_E5M2", 1}, {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2},     {DType::kF32, "F32", 4}, {DType::kF64, "F64", 8},
}};

float decode_e4m3(uint8_t bits) {
  int sign = bits >> 7, exponent = (bits >> 3) & 0xf, mantissa = bits & 7;
  float magnitude;
  if (exponent == 0xf && mantissa == 7) return std::nanf("");
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -9);  // subnormal: m/8 * 2^-6
  } else {
    magnitude = std::ldexp(1.0f + mantissa / 8.0f, exponent - 7);
  }
  return sign ? -magnitude : magnitude;
}

const std::array<float, 256>& e4m3_table() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> values{};
    for (int i = 0; i < 256; ++i) values[i] = decode_e4m3(static_cast<uint8_t>(i));
    return values;
  }();
  return table;
}
}  // namespace

size_t dtype_size(DType dtype) {
  for (const auto& info : kDTypes)
    if (info.dtype == dtype) return info.size;
  return 0;
}

std::string_view dtype_name(DType dtype) {
  for (const auto& info : kDTypes)
    if (info.dtype == dtype) return info.name;
  return "?";
}

bool parse_dtype(std::string_view name, DType* out) {
  for (const auto& info : kDTypes) {
    if (info.name == name) {
      *out = info.dtype;
      return true;
    }
  }
  return false;
}

float f16_to_float(uint16_t bits) {
  int sign = bits >> 15, exponent = (bits >> 10) & 0x1f, mantissa = bits & 0x3ff;
  float magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  } else if (exponent == 0x1f) {
    magnitude = mantissa ? std::nanf("") : INFINITY;
  } else {
    magnitude = std::ldexp(1.0f + mantissa / 1024.0f, exponent - 15);
  }
  return sign ? -magnitude : magnitude;
}

uint16_t float_to_f16(float value) {
  // Search-free conversion: scale into the half grid and round with the FPU (nearest even).
  uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  float magnitude = std::fabs(value);
  if (std::isnan(value)) return 0x7e00;
  if (magnitude >= 65520.0f) return sign | 0x7c00;
  if (magnitude < std::ldexp(1.0f, -14)) {
    return sign | static_cast<uint16_t>(std::nearbyint(std::ldexp(magnitude, 24)));
  }
  int exponent;
  std::frexp(magnitude, &exponent);  // magnitude = f * 2^exponent, f in [0.5, 1)
  float mantissa = std::nearbyint(std::ldexp(magnitude, 11 - exponent));  // in [1024, 2048]
  int biased = exponent - 1 + 15;
  uint32_t bits = (static_cast<uint32_t>(biased) << 10) + (static_cast<uint32_t>(mantissa) - 1024);
  return sign | static_cast<uint16_t>(bits);  // mantissa == 2048 carries into the exponent
}

float fp8_e4m3_to_float(fp8_e4m3 value) { return e4m3_table()[value.bits]; }

fp8_e4m3 float_to_fp8_e4m3(float value) {
  if (std::isnan(value)) return fp8_e4m3{0x7f};
  uint8_t sign = std::signbit(value) ? 0x80 : 0;
  float magnitude = std::fabs(value);
  if (magnitude >= 448.0f) return fp8_e4m3{static_cast<uint8_t>(sign | 0x7e)};
  if (magnitude < std::ldexp(1.0f, -6)) {  // subnormal grid: multiples of 2^-9
    return fp8_e4m3{static_cast<uint8_t>(sign | static_cast<uint8_t>(std::nearbyint(std::ldexp(magnitude, 9))))};
  }
  int exponent;
  std::frexp(magnitude, &exponent);
  float mantissa = std::nearbyint(std::ldexp(magnitude, 4 - exponent));  // in [8, 16]
  int biased = exponent - 1 + 7;
  uint32_t bits = (static_cast<uint32_t>(biased) << 3) + (static_cast<uint32_t>(mantissa) - 8);
  return fp8_e4m3{static_cast<uint8_t>(sign | bits)};
}

}  // namespace dsinfer
