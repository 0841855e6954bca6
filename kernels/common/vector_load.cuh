#pragma once
// Eight 16-bit KV elements from one 16-byte load, widened to fp32; fp32 to and from the KV type.
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace unisparse::cuda {

// Eight 16-bit elements held in a uint4 (one 16-byte load), widened to fp32.
template <class KvType>
__device__ __forceinline__ void unpack8_as_float(const uint4& raw, float (&out)[8]) {
  const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    if constexpr (std::is_same_v<KvType, __half>) {
      const float2 pair = __half22float2(*reinterpret_cast<const __half2*>(&words[i]));
      out[2 * i] = pair.x;
      out[2 * i + 1] = pair.y;
    } else {
      const float2 pair = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&words[i]));
      out[2 * i] = pair.x;
      out[2 * i + 1] = pair.y;
    }
  }
}

template <class KvType>
__device__ __forceinline__ KvType from_float(float value) {
  if constexpr (std::is_same_v<KvType, __half>)
    return __float2half_rn(value);
  else
    return __float2bfloat16_rn(value);
}

template <class KvType>
__device__ __forceinline__ float to_float(KvType value) {
  if constexpr (std::is_same_v<KvType, __half>)
    return __half2float(value);
  else
    return __bfloat162float(value);
}

}  // namespace unisparse::cuda
