// The wgmma shared-memory descriptors of the sm_90a prefill against the PTX ISA: the bit fields, and
// that the operand each k16 step describes is exactly where the TMA unit put the tile. Two models,
// written from the ISA's descriptions rather than from the code under test:
//  * TMA with the 128-byte swizzle writes 16-byte chunk c of 128-byte row r of a box at chunk
//    c ^ (r % 8) of that row (the XOR of address bits 4-6 with bits 7-9 over a 1024-byte aligned box);
//  * wgmma reads a swizzled operand at its canonical address with the same XOR applied. Canonical
//    layouts, in 16-byte units, K-major: ((8, m), 2) : ((8, SBO), 1); MN-major:
//    ((8, n), (8, k)) : ((1, LBO), (8, SBO)), from the descriptor's start address.
#include "kernels/common/sm90_smem_descriptor.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "kernels/prefill/prefill_sm90_config.h"

namespace unisparse::cuda::sm90 {
namespace {

constexpr uint32_t swizzle_128b(uint32_t address) { return address ^ (((address >> 7) & 7) << 4); }

// Byte address of element (row, column) of a [rows][columns] 16-bit tile that TMA loaded in boxes of
// 64 columns, panel after panel, from `base`.
constexpr uint32_t tma_address(uint32_t base, int rows, int row, int column) {
  const int panel = column / 64, chunk = (column % 64) / 8;
  return base + panel * rows * 128 + row * 128 + ((chunk ^ (row % 8)) * 16) + (column % 8) * 2;
}

struct Fields {
  uint32_t start, leading, stride, base_offset, swizzle;
};
constexpr Fields fields(uint64_t descriptor) {
  return {uint32_t(descriptor & 0x3FFF) << 4, uint32_t((descriptor >> 16) & 0x3FFF) << 4,
          uint32_t((descriptor >> 32) & 0x3FFF) << 4, uint32_t((descriptor >> 49) & 7),
          uint32_t(descriptor >> 62)};
}

// Element (row, k) of the 16-column operand of a K-major descriptor: 8-row groups SBO apart, 8-element
// (16-byte) chunks of k 16 bytes apart.
uint32_t k_major_read_address(uint64_t descriptor, int row, int k) {
  const Fields f = fields(descriptor);
  const uint32_t canonical = f.start + (row % 8) * 128 + (row / 8) * f.stride + (k / 8) * 16 + (k % 8) * 2;
  return swizzle_128b(canonical);
}
// Element (k, n) of the 16-row operand of an MN-major descriptor: 64-column blocks LBO apart, 8-row
// groups of k SBO apart.
uint32_t mn_major_read_address(uint64_t descriptor, int k, int n) {
  const Fields f = fields(descriptor);
  const uint32_t canonical = f.start + ((n % 64) / 8) * 16 + (n / 64) * f.leading + (k % 8) * 128 +
                             (k / 8) * f.stride + (n % 8) * 2;
  return swizzle_128b(canonical);
}

TEST(Sm90SmemDescriptor, FieldsSitWhereThePtxIsaPutsThem) {
  // start 0x1230 >> 4 in bits 0-13, leading 0x40 >> 4 in 16-29, stride 0x400 >> 4 in 32-45, 128-byte
  // swizzle (1) in 62-63, base offset 0.
  EXPECT_EQ(encode_smem_descriptor(0x1230, 0x40, 0x400, SmemSwizzle::bytes128),
            0x0123ull | (0x4ull << 16) | (0x40ull << 32) | (1ull << 62));
  EXPECT_EQ(encode_smem_descriptor(0, 0, 0, SmemSwizzle::bytes32), 3ull << 62);
  // The largest shared address of an SM (227 KB) still fits the 14-bit field.
  const Fields top = fields(encode_smem_descriptor(227 * 1024 - 16, 16, 1024, SmemSwizzle::bytes128));
  EXPECT_EQ(top.start, 227u * 1024 - 16);
  EXPECT_EQ(top.base_offset, 0u);
}

TEST(Sm90SmemDescriptor, AdvancingMovesOnlyTheStartAddress) {
  const uint64_t descriptor = k_major_descriptor(0x8000);
  const Fields moved = fields(advance_smem_descriptor(descriptor, 16384 + 96));
  EXPECT_EQ(moved.start, 0x8000u + 16384 + 96);
  EXPECT_EQ(moved.leading, fields(descriptor).leading);
  EXPECT_EQ(moved.stride, fields(descriptor).stride);
  EXPECT_EQ(moved.swizzle, 1u);
}

TEST(Sm90SmemDescriptor, KMajorStepsReadTheTmaTile) {
  // Q as A (rows = query rows of the block, a math warpgroup starting at row 0 or 64) and K as B
  // (rows = keys), head dims 64 and 128, tiles of 64 and 128 rows.
  for (int head_dim : {64, 128})
    for (int rows : {64, 128})
      for (int first_row = 0; first_row < rows; first_row += 64) {
        constexpr uint32_t kBase = 0x6000;  // 1024-byte aligned
        const uint64_t operand = k_major_descriptor(kBase + row_offset(first_row));
        for (int step = 0; step < head_dim / kMmaK; ++step) {
          const uint64_t descriptor = advance_smem_descriptor(operand, k_major_step_offset(rows, step));
          for (int row = 0; row < 64; ++row)
            for (int k = 0; k < kMmaK; ++k)
              ASSERT_EQ(k_major_read_address(descriptor, row, k),
                        tma_address(kBase, rows, first_row + row, step * kMmaK + k))
                  << "head_dim " << head_dim << " rows " << rows << " step " << step << " row "
                  << row << " k " << k;
        }
      }
}

TEST(Sm90SmemDescriptor, MnMajorStepsReadTheTmaValueTile) {
  // V as B of O = P V: K = keys (rows of the tile), N = head dims (all of them in one wgmma).
  for (int head_dim : {64, 128})
    for (int keys : {64, 128}) {
      constexpr uint32_t kBase = 0x1c000;
      const uint64_t operand = mn_major_descriptor(kBase, keys);
      for (int step = 0; step < keys / kMmaK; ++step) {
        const uint64_t descriptor = advance_smem_descriptor(operand, mn_major_step_offset(step));
        for (int k = 0; k < kMmaK; ++k)
          for (int n = 0; n < head_dim; ++n)
            ASSERT_EQ(mn_major_read_address(descriptor, k, n),
                      tma_address(kBase, keys, step * kMmaK + k, n))
                << "head_dim " << head_dim << " keys " << keys << " step " << step << " k " << k
                << " n " << n;
      }
    }
}

TEST(Sm90SmemDescriptor, TheSwizzleModelIsAPermutationWithinEachRow) {
  // Sanity of the model itself: a row's 64 elements land on 64 distinct 2-byte slots of that row.
  for (int row = 0; row < 16; ++row) {
    bool seen[64] = {};
    for (int column = 0; column < 64; ++column) {
      const uint32_t offset = tma_address(0, 16, row, column) - row * 128;
      ASSERT_LT(offset, 128u);
      EXPECT_FALSE(seen[offset / 2]);
      seen[offset / 2] = true;
    }
  }
}

TEST(Sm90PrefillConfig, PanelsAlignAndRegistersBalance) {
  using Wide = Sm90PrefillConfig<128, 128>;
  using Narrow = Sm90PrefillConfig<64, 64>;
  // Two math warpgroups of 64 rows and the copy warpgroup; 240 registers for math (S, O and P of a
  // 128 x 128 tile pair) from 168 granted at launch.
  EXPECT_EQ(Wide::kThreads, 384);
  EXPECT_EQ(Wide::kLaunchRegisters, 168);
  EXPECT_EQ(Wide::kMathRegisters, 240);
  EXPECT_LE(Wide::kCopyRegisters * 128 + Wide::kMathRegisters * Wide::kMathThreads, 65536);
  EXPECT_EQ(Narrow::kThreads, 256);
  EXPECT_EQ(Narrow::kBlocksPerSm, 2);
  EXPECT_LE((Narrow::kCopyRegisters * 128 + Narrow::kMathRegisters * Narrow::kMathThreads) *
                Narrow::kBlocksPerSm,
            65536);
  EXPECT_TRUE(Wide::kPingPong);
  EXPECT_FALSE(Narrow::kPingPong);
  // Q, both rings and the barriers, with the alignment slack, in one SM's 227 KB.
  EXPECT_EQ(Wide::kBarrierOffset, 32768 + 2 * 32768 + 2 * 32768);
  EXPECT_LE(Wide::kSharedBytes, 227 * 1024);
}

}  // namespace
}  // namespace unisparse::cuda::sm90
