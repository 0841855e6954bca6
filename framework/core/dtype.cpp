#include "framework/core/dtype.h"

#include <bit>
#include <cmath>
#include <cstring>

namespace unisparse {

uint16_t float_to_half_bits(float value) {
  const uint32_t x = std::bit_cast<uint32_t>(value);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // inf or nan
    return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
  }
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to inf
  if (abs < 0x38800000u) {  // subnormal half (or zero)
    // value * 2^24 rounded to nearest even is the subnormal mantissa.
    const float scaled = std::bit_cast<float>(abs) * 16777216.0f;
    const auto mant = static_cast<uint32_t>(std::nearbyint(scaled));
    return static_cast<uint16_t>(sign | mant);
  }
  const uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);  // round to nearest even
  return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

float half_bits_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exp = (bits >> 10) & 0x1fu;
  const uint32_t mant = bits & 0x3ffu;
  if (exp == 0) {
    const float v = static_cast<float>(mant) / 16777216.0f;
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
}

uint16_t float_to_bf16_bits(float value) {
  const uint32_t x = std::bit_cast<uint32_t>(value);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet nan
  const uint32_t rounded = x + 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(rounded >> 16);
}

float bf16_bits_to_float(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

float round_to_dtype(float value, DType dtype) {
  switch (dtype) {
    case DType::fp16: return half_bits_to_float(float_to_half_bits(value));
    case DType::bf16: return bf16_bits_to_float(float_to_bf16_bits(value));
    default: return value;  // quantized formats are applied by the cache, not to host inputs
  }
}

void round_to_dtype(std::span<float> values, DType dtype) {
  if (dtype != DType::fp16 && dtype != DType::bf16) return;
  for (float& v : values) v = round_to_dtype(v, dtype);
}

double bytes_per_element(DType dtype) {
  switch (dtype) {
    case DType::fp32: return 4.0;
    case DType::fp16:
    case DType::bf16: return 2.0;
    case DType::int8:
    case DType::fp8: return 1.0;
    case DType::int4: return 0.5;
  }
  return 0.0;
}

}  // namespace unisparse
