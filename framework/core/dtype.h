#pragma once
// Host-side conversions between float and the 16-bit storage types (round to nearest even), used to
// make host tensors exactly representable in the dtype a backend stores.
#include <cstdint>
#include <span>

#include "framework/core/types.h"

namespace unisparse {

uint16_t float_to_half_bits(float value);
float half_bits_to_float(uint16_t bits);
uint16_t float_to_bf16_bits(float value);
float bf16_bits_to_float(uint16_t bits);

// Rounds a value to the nearest value representable in dtype (fp32: unchanged).
float round_to_dtype(float value, DType dtype);
void round_to_dtype(std::span<float> values, DType dtype);

// Bytes per element of a KV storage type (int4 = 0.5).
double bytes_per_element(DType dtype);

}  // namespace unisparse
