#pragma once
// Global -> shared copies of kBytes that do not hold registers while in flight (cp.async, sm_80+),
// for the per-thread copy rings of the decode kernels: a thread copies what it will itself read (or,
// after __syncwarp, what its warp reads), commits one group per ring stage and waits with
// ptx::cp_async_wait for the stage it consumes. An invalid source copies nothing and zero-fills the
// destination, so padding tokens read as zeros.
#include <cstdint>

#include "kernels/common/warp_mma.cuh"

namespace unisparse::cuda {
namespace ptx {

// 4 or 8 bytes through L1 (cp.async.cg takes 16 bytes only).
template <int kBytes>
__device__ __forceinline__ void cp_async_ca(uint32_t shared_destination, const void* global_source,
                                            bool valid) {
  static_assert(kBytes == 4 || kBytes == 8);
  const int source_bytes = valid ? kBytes : 0;
  asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" ::"r"(shared_destination),
               "l"(global_source), "n"(kBytes), "r"(source_bytes));
}

}  // namespace ptx

// Copies kBytes (a multiple of 16, or 8, 4, 2) from global to shared memory, both aligned to
// min(kBytes, 16). Two bytes (int4 V slices at head_dim 64) are below cp.async's unit: they are
// copied through a register, which waits for the load; no hot path copies that little.
template <int kBytes>
__device__ __forceinline__ void copy_async(void* shared_destination, const void* global_source,
                                           bool valid) {
  const uint32_t destination = ptx::shared_address(shared_destination);
  if constexpr (kBytes >= 16) {
    static_assert(kBytes % 16 == 0);
#pragma unroll
    for (int offset = 0; offset < kBytes; offset += 16)
      ptx::cp_async_16(destination + offset, static_cast<const uint8_t*>(global_source) + offset, valid);
  } else if constexpr (kBytes == 8 || kBytes == 4) {
    ptx::cp_async_ca<kBytes>(destination, global_source, valid);
  } else {
    static_assert(kBytes == 2);
    *static_cast<uint16_t*>(shared_destination) = valid ? *static_cast<const uint16_t*>(global_source) : 0;
  }
}

}  // namespace unisparse::cuda
