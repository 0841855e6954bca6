#pragma once
// Quantized KV cache formats as the CPU sees them (QServe-style; framework/DESIGN.md, KV formats):
// every row is one token's key or value of one KV head, [head_dim] floats.
//  * int8 / int4: asymmetric, per row. scale = (max - min) / levels (levels = 255 / 15),
//    zero = round(-min / scale), code = clamp(round(x / scale) + zero, 0, levels), x' = (code - zero)
//    * scale; so |x - x'| <= scale / 2 for every x of the row. A constant row c gets scale |c| (1 for
//    0), which round-trips exactly. int4 packs two codes per byte, the even channel in the low
//    nibble; an odd channel count leaves the high nibble of the last byte 0.
//  * fp8: OCP e4m3fn (bias 7, largest finite 448, no infinities, NaN = S.1111.111) of x / scale with
//    one scale per (sequence, KV head) given by the caller (e4m3_scale); values beyond 448 * scale
//    saturate to ±448 * scale.
// Rounding is to nearest, ties to even, everywhere. Inputs are finite.
#include <cstdint>
#include <span>
#include <vector>

#include "framework/core/types.h"

namespace unisparse {

// int8, int4 and fp8 are quantized formats; fp32, fp16 and bf16 are stored as they are.
bool is_quantized(DType dtype);

struct QuantizedRow {
  std::vector<uint8_t> codes;  // [n] for int8 and fp8, [ceil(n / 2)] for int4
  float scale = 1.0f;
  float zero = 0.0f;  // an integer in code units (int8 / int4); 0 for fp8
};

// Encodes a row in a quantized format; fp8_scale is used by fp8 only (the others compute their own).
// Throws std::invalid_argument for a format that is not quantized or an fp8 scale that is not > 0.
QuantizedRow quantize_row(std::span<const float> row, DType format, float fp8_scale);
// out.size() is the row's channel count n (codes must hold n codes in that format).
void dequantize_row(const QuantizedRow& row, DType format, std::span<float> out);
// What a backend reading a quantized cache sees: dequantize(quantize(in)). out may alias in.
void quantize_dequantize_row(std::span<const float> in, DType format, float fp8_scale,
                             std::span<float> out);

// Bytes stored beside each quantized [head_dim] row: the fp32 (scale, zero) of int8 / int4; 0 for
// the other formats (fp8's scale is one per sequence and KV head).
inline double kv_row_parameter_bytes(DType format) {
  return format == DType::int8 || format == DType::int4 ? 2 * sizeof(float) : 0.0;
}

// e4m3fn with round to nearest even; finite values beyond ±448 and infinities saturate to ±448, NaN
// becomes 0x7f (with the input's sign).
uint8_t float_to_e4m3(float value);
float e4m3_to_float(uint8_t code);
inline constexpr float kE4m3Max = 448.0f;

// The fp8 scale of a set of values: max |x| / 448, so that the largest lands on 448; 1 when every
// value is 0.
float e4m3_scale(std::span<const float> values);

}  // namespace unisparse
