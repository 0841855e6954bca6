#pragma once
// How the paged KV cache stores one token row of head_dim channels, as the kernels read and write it
// (the formats of framework/core/kv_quant.h, bit for bit):
//  * Float16Storage<T>: T = __half or __nv_bfloat16, 2 bytes a channel.
//  * Int8Storage / Int4Storage: one code per channel (int4: two per byte, the even channel in the
//    low nibble) and a per-token (scale, zero) pair: x' = (code - zero) * scale.
//  * Fp8Storage: e4m3fn codes with one scale per pool row (sequence, KV head): x' = e4m3(code) * scale.
// The decode kernels read 16-bit rows 8 channels (one Raw load) at a time and quantized rows through
// the fragment builders of kernels/decode/decode_attention_mma.cuh.
#include <cuda_fp8.h>

#include <cstdint>
#include <type_traits>

#include "kernels/common/vector_load.cuh"

namespace unisparse::cuda {

// Dequantization parameters of one token row: (scale, zero) of int8/int4; (row scale, 0) of fp8.
struct TokenParams {
  float scale;
  float zero;
};
__device__ __forceinline__ TokenParams as_token_params(float2 pair) { return {pair.x, pair.y}; }

template <class T>
struct Float16Storage {
  using Element = T;
  using Raw = uint4;
  static constexpr int kBits = 16;
  static constexpr bool kTokenParams = false;
  static constexpr bool kRowScale = false;
};
struct Int8Storage {
  using Raw = uint2;
  static constexpr int kBits = 8;
  static constexpr int kLevels = 255;
  static constexpr bool kTokenParams = true;
  static constexpr bool kRowScale = false;
};
struct Int4Storage {
  using Raw = uint32_t;
  static constexpr int kBits = 4;
  static constexpr int kLevels = 15;
  static constexpr bool kTokenParams = true;
  static constexpr bool kRowScale = false;
};
struct Fp8Storage {
  using Raw = uint2;
  static constexpr int kBits = 8;
  static constexpr bool kTokenParams = false;
  static constexpr bool kRowScale = true;
};

template <class Storage>
__host__ __device__ constexpr int row_bytes(int head_dim) {
  return head_dim * Storage::kBits / 8;
}

// The smallest fp32 scale with scale * levels >= range (kv_quant.cpp integer_scale).
__device__ __forceinline__ float integer_scale(double range, int levels) {
  if (range == 0.0) return 1.0f;
  float scale = static_cast<float>(range / levels);
  if (double(scale) * levels < range) scale = nextafterf(scale, INFINITY);
  return scale;
}

__device__ __forceinline__ float warp_max(float x) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, offset));
  return x;
}
__device__ __forceinline__ float warp_min(float x) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) x = fminf(x, __shfl_xor_sync(0xffffffffu, x, offset));
  return x;
}

// One warp stores one token row: source [head_dim] fp32 -> row [row_bytes] in the storage format,
// plus the token's (scale, zero) for int8/int4 (maybe_params); fp8 divides by row_scale first.
// Every lane of the warp must call it (the integer formats reduce min/max over the warp).
template <class Storage>
__device__ __forceinline__ void store_token_row(const float* source, int head_dim, uint8_t* row,
                                                float2* maybe_params, float row_scale, int lane) {
  if constexpr (Storage::kBits == 16) {
    using T = typename Storage::Element;
    for (int c = lane; c < head_dim; c += 32) reinterpret_cast<T*>(row)[c] = from_float<T>(source[c]);
  } else if constexpr (std::is_same_v<Storage, Fp8Storage>) {
    for (int c = lane; c < head_dim; c += 32)
      row[c] = __nv_cvt_float_to_fp8(source[c] / row_scale, __NV_SATFINITE, __NV_E4M3);
  } else {
    float low = INFINITY, high = -INFINITY;
    for (int c = lane; c < head_dim; c += 32) {
      low = fminf(low, source[c]);
      high = fmaxf(high, source[c]);
    }
    const double min = warp_min(low), max = warp_max(high);
    // A constant row c is stored as the single step |c| (kv_quant.cpp).
    const float scale = max == min ? (min == 0.0 ? 1.0f : fabsf(float(min)))
                                   : integer_scale(max - min, Storage::kLevels);
    const float zero = static_cast<float>(rint(-min / double(scale)));
    const auto code_of = [&](int c) {
      const double code = fmin(fmax(rint(source[c] / double(scale)) + zero, 0.0), double(Storage::kLevels));
      return static_cast<uint32_t>(code);
    };
    if constexpr (Storage::kBits == 8) {
      for (int c = lane; c < head_dim; c += 32) row[c] = static_cast<uint8_t>(code_of(c));
    } else {
      for (int byte = lane; byte < (head_dim + 1) / 2; byte += 32) {
        const uint32_t high_nibble = 2 * byte + 1 < head_dim ? code_of(2 * byte + 1) : 0u;
        row[byte] = static_cast<uint8_t>(code_of(2 * byte) | high_nibble << 4);
      }
    }
    if (lane == 0) *maybe_params = make_float2(scale, zero);
  }
}

}  // namespace unisparse::cuda
