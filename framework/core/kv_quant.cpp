#include "framework/core/kv_quant.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>
#include <string>

namespace unisparse {

namespace {

int integer_levels(DType format) { return format == DType::int8 ? 255 : 15; }

size_t code_bytes(DType format, size_t channels) {
  return format == DType::int4 ? (channels + 1) / 2 : channels;
}

void check_quantized(DType format) {
  if (!is_quantized(format))
    throw std::invalid_argument("kv quantization: " + std::string(to_string(format)) +
                                " is not a quantized format");
}

// The smallest float scale with scale * levels >= range, so that max maps to a code <= levels.
float integer_scale(double range, int levels) {
  if (range == 0.0) return 1.0f;
  float scale = static_cast<float>(range / levels);
  if (double{scale} * levels < range) scale = std::nextafter(scale, INFINITY);
  return scale;
}

QuantizedRow quantize_integer(std::span<const float> row, DType format) {
  const int levels = integer_levels(format);
  const auto [min_it, max_it] = std::ranges::minmax_element(row);
  const double min = row.empty() ? 0.0 : *min_it;
  const double max = row.empty() ? 0.0 : *max_it;
  QuantizedRow out;
  // A constant row c is stored as the single step |c|: code 0 with zero = -sign(c) gives c exactly.
  out.scale = max == min ? (min == 0.0 ? 1.0f : static_cast<float>(std::abs(min)))
                         : integer_scale(max - min, levels);
  out.zero = static_cast<float>(std::nearbyint(-min / out.scale));
  out.codes.assign(code_bytes(format, row.size()), 0);
  for (size_t i = 0; i < row.size(); ++i) {
    const double code = std::clamp(std::nearbyint(row[i] / double{out.scale}) + out.zero, 0.0,
                                   static_cast<double>(levels));
    const auto value = static_cast<uint8_t>(code);
    if (format == DType::int8)
      out.codes[i] = value;
    else
      out.codes[i / 2] |= static_cast<uint8_t>(i % 2 ? value << 4 : value);
  }
  return out;
}

}  // namespace

bool is_quantized(DType dtype) {
  return dtype == DType::int8 || dtype == DType::int4 || dtype == DType::fp8;
}

uint8_t float_to_e4m3(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const auto sign = static_cast<uint8_t>((bits >> 24) & 0x80u);
  const uint32_t abs_bits = bits & 0x7fffffffu;
  constexpr uint8_t kMaxFinite = 0x7e;  // S.1111.110 = 448
  if (abs_bits > 0x7f800000u) return sign | 0x7f;
  const float magnitude = std::bit_cast<float>(abs_bits);
  if (magnitude >= kE4m3Max) return sign | kMaxFinite;
  if (magnitude < 0x1p-6f) {
    // Subnormals are multiples of 2^-9; a result of 8 is the smallest normal, code 0x08, as wanted.
    return sign | static_cast<uint8_t>(std::nearbyint(magnitude * 0x1p9f));
  }
  // Keep 3 of the 23 mantissa bits, round to nearest even; a carry moves into the exponent.
  const uint32_t rounded = abs_bits + 0x7ffffu + ((abs_bits >> 20) & 1u);
  const uint32_t code = (rounded >> 20) - ((127u - 7u) << 3);  // rebias the exponent 127 -> 7
  return sign | static_cast<uint8_t>(std::min<uint32_t>(code, kMaxFinite));  // 464.. rounds up: saturate
}

float e4m3_to_float(uint8_t code) {
  const int exponent = (code >> 3) & 0xf;
  const int mantissa = code & 0x7;
  float magnitude;
  if (exponent == 0xf && mantissa == 0x7)
    magnitude = std::nanf("");
  else if (exponent == 0)
    magnitude = std::ldexp(static_cast<float>(mantissa), -9);
  else
    magnitude = std::ldexp(static_cast<float>(8 + mantissa), exponent - 10);
  return code & 0x80 ? -magnitude : magnitude;
}

float e4m3_scale(std::span<const float> values) {
  float absmax = 0.0f;
  for (float x : values) absmax = std::max(absmax, std::abs(x));
  return absmax > 0.0f ? absmax / kE4m3Max : 1.0f;
}

QuantizedRow quantize_row(std::span<const float> row, DType format, float fp8_scale) {
  check_quantized(format);
  if (format != DType::fp8) return quantize_integer(row, format);
  if (!(fp8_scale > 0.0f) || !std::isfinite(fp8_scale))
    throw std::invalid_argument("kv quantization: the fp8 scale must be positive and finite");
  QuantizedRow out;
  out.scale = fp8_scale;
  out.codes.resize(row.size());
  for (size_t i = 0; i < row.size(); ++i) out.codes[i] = float_to_e4m3(row[i] / fp8_scale);
  return out;
}

void dequantize_row(const QuantizedRow& row, DType format, std::span<float> out) {
  check_quantized(format);
  if (row.codes.size() != code_bytes(format, out.size()))
    throw std::invalid_argument("kv quantization: " + std::to_string(row.codes.size()) +
                                " code bytes do not hold " + std::to_string(out.size()) + " " +
                                std::string(to_string(format)) + " channels");
  for (size_t i = 0; i < out.size(); ++i) {
    if (format == DType::fp8) {
      out[i] = e4m3_to_float(row.codes[i]) * row.scale;
      continue;
    }
    const int code = format == DType::int8 ? row.codes[i] : (row.codes[i / 2] >> (i % 2 ? 4 : 0)) & 0xf;
    out[i] = static_cast<float>((code - double{row.zero}) * row.scale);
  }
}

void quantize_dequantize_row(std::span<const float> in, DType format, float fp8_scale,
                             std::span<float> out) {
  if (in.size() != out.size())
    throw std::invalid_argument("kv quantization: input and output rows differ in length");
  dequantize_row(quantize_row(in, format, fp8_scale), format, out);
}

}  // namespace unisparse
