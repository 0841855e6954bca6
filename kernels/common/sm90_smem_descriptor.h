#pragma once
// The 64-bit shared-memory matrix descriptor of sm_90a wgmma (PTX ISA, "Matrix Descriptor Format"),
// and the byte offsets of the 16-bit operand tiles the Hopper prefill hands to it. Plain constexpr
// arithmetic, so the host tests check the bit layout and the kernel builds its descriptors from the
// same functions (nvcc --expt-relaxed-constexpr).
//
// Tiles are what a TMA box with the 128-byte swizzle writes: a [rows][cols] tile of 16-bit elements
// is stored as cols / 64 column panels, each [rows][64] with 128-byte rows, 16-byte chunk c of row r
// at chunk position c ^ (r % 8). The swizzle is a function of the address bits, so every panel starts
// on a 1024-byte boundary (eight 128-byte rows, one period of the pattern).
#include <cstdint>

namespace unisparse::cuda::sm90 {

// Descriptor bits 62-63.
enum class SmemSwizzle : uint64_t { none = 0, bytes128 = 1, bytes64 = 2, bytes32 = 3 };

inline constexpr int kSwizzleRowBytes = 128;            // one swizzled row
inline constexpr int kSwizzlePanelColumns = 64;         // 16-bit elements per swizzled row
inline constexpr int kSwizzleAtomBytes = 8 * kSwizzleRowBytes;  // rows of one swizzle period
inline constexpr int kMmaK = 16;                        // K of one wgmma with 16-bit inputs

// Bits 0-13: start address >> 4; 16-29: leading-dimension byte offset >> 4; 32-45: stride-dimension
// byte offset >> 4; 49-51: base offset (0: every tile starts on a swizzle period); 62-63: swizzle.
// Shared addresses are below 2^18, so 14 bits of 16-byte units hold them.
constexpr uint64_t encode_smem_descriptor(uint32_t start_address, uint32_t leading_byte_offset,
                                          uint32_t stride_byte_offset, SmemSwizzle swizzle) {
  return (uint64_t{(start_address & 0x3FFFF) >> 4}) |
         (uint64_t{(leading_byte_offset & 0x3FFFF) >> 4} << 16) |
         (uint64_t{(stride_byte_offset & 0x3FFFF) >> 4} << 32) |
         (static_cast<uint64_t>(swizzle) << 62);
}

// Adding a byte offset to a descriptor's start address (offsets keep the address below 2^18).
constexpr uint64_t advance_smem_descriptor(uint64_t descriptor, uint32_t byte_offset) {
  return descriptor + (byte_offset >> 4);
}

// K-major operand (contiguous along K): Q as A and K as B of S = Q K^T. Rows are M (or N), columns K.
// Eight-row groups are kSwizzleAtomBytes apart (stride-dimension offset); the leading-dimension offset
// is unused by swizzled K-major layouts and set to 16 bytes as the ISA suggests.
constexpr uint64_t k_major_descriptor(uint32_t tile_address) {
  return encode_smem_descriptor(tile_address, 16, kSwizzleAtomBytes, SmemSwizzle::bytes128);
}
// Bytes from the tile start to the operand of K step `k_step` (columns 16 k_step .. 16 k_step + 15)
// in a tile of `tile_rows` rows: four steps share a 128-byte row, then the next panel begins.
constexpr uint32_t k_major_step_offset(int tile_rows, int k_step) {
  constexpr int kStepsPerPanel = kSwizzlePanelColumns / kMmaK;
  return (k_step % kStepsPerPanel) * (kMmaK * 2) +
         (k_step / kStepsPerPanel) * tile_rows * kSwizzleRowBytes;
}
// Bytes from the tile start to row `row` (a multiple of 8) of the first panel.
constexpr uint32_t row_offset(int row) { return row * kSwizzleRowBytes; }

// MN-major operand (contiguous along N): V as B of O = P V, rows K (keys), columns N (head dims).
// The leading-dimension offset steps to the next 64-column panel; eight-row groups of K are
// kSwizzleAtomBytes apart.
constexpr uint64_t mn_major_descriptor(uint32_t tile_address, int tile_rows) {
  return encode_smem_descriptor(tile_address, tile_rows * kSwizzleRowBytes, kSwizzleAtomBytes,
                                SmemSwizzle::bytes128);
}
// Bytes from the tile start to K step `k_step` (rows 16 k_step .. 16 k_step + 15).
constexpr uint32_t mn_major_step_offset(int k_step) { return k_step * kMmaK * kSwizzleRowBytes; }

}  // namespace unisparse::cuda::sm90
