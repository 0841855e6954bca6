#pragma once
// Every tile, pipeline and launch limit of the sm_90a prefill, chosen in one place: the query block of
// one CTA, its KV tile, the warpgroups, the depth of the K/V pipelines, the shared-memory layout and
// the register split between the copy warpgroup and the math warpgroups. Plain constexpr, so the host
// tests check the arithmetic the kernel relies on.
#include "kernels/common/sm90_smem_descriptor.h"

namespace unisparse::cuda {

template <int kHeadDim_, int kBlockM_>
struct Sm90PrefillConfig {
  static constexpr int kHeadDim = kHeadDim_;
  // Query rows of one CTA: the plan's block, so a CTA owns one row of the active-tile lists.
  static constexpr int kBlockM = kBlockM_;
  // Keys of one KV tile: also the plan's block, so a block-list block is exactly one tile and a
  // dense causal block has one masked (diagonal) tile.
  static constexpr int kBlockN = kBlockM_;

  // Warpgroup 0 issues the TMA copies; warpgroups 1.. each own 64 query rows (one wgmma M).
  static constexpr int kRowsPerWarpgroup = 64;
  static constexpr int kMathWarpgroups = kBlockM / kRowsPerWarpgroup;
  static constexpr int kMathThreads = kMathWarpgroups * 128;
  static constexpr int kThreads = 128 + kMathThreads;
  // Two math warpgroups alternate their wgmma issue (one computes its softmax while the other's
  // matrix products run); one warpgroup overlaps within itself only.
  static constexpr bool kPingPong = kMathWarpgroups == 2;

  // K and V each have their own full / empty barrier ring of kStages tiles.
  static constexpr int kStages = 2;

  // 16-bit operand tiles in 128-byte swizzled column panels (sm90_smem_descriptor.h).
  static constexpr int kColumnPanels = kHeadDim / sm90::kSwizzlePanelColumns;
  static constexpr int kQBytes = kBlockM * kHeadDim * 2;
  static constexpr int kKvTileBytes = kBlockN * kHeadDim * 2;
  static constexpr int kQPanelBytes = kBlockM * sm90::kSwizzleRowBytes;
  static constexpr int kKvPanelBytes = kBlockN * sm90::kSwizzleRowBytes;

  // Shared memory from a 1024-byte aligned base: Q | K[kStages] | V[kStages] | barriers.
  static constexpr int kQOffset = 0;
  static constexpr int kKOffset = kQOffset + kQBytes;
  static constexpr int kVOffset = kKOffset + kStages * kKvTileBytes;
  static constexpr int kBarrierOffset = kVOffset + kStages * kKvTileBytes;
  // q_full, then k_full, k_empty, v_full, v_empty rings of kStages each.
  static constexpr int kBarrierCount = 1 + 4 * kStages;
  static constexpr int kUsedSharedBytes = kBarrierOffset + 8 * kBarrierCount;
  // The dynamic shared window is 16-byte aligned; the kernel rounds its base up to 1024.
  static constexpr int kAlignmentSlack = sm90::kSwizzleAtomBytes;
  static constexpr int kSharedBytes = kUsedSharedBytes + kAlignmentSlack;

  // Register split (setmaxnreg): the launch gives every thread 65536 / (kThreads * kBlocksPerSm),
  // rounded down to 8; the copy warpgroup drops to kCopyRegisters and the math warpgroups take the
  // rest.
  static constexpr int kBlocksPerSm = kMathWarpgroups == 2 ? 1 : 2;
  static constexpr int kLaunchRegisters = (65536 / (kThreads * kBlocksPerSm)) / 8 * 8;
  static constexpr int kCopyRegisters = 24;
  static constexpr int kMathRegisters =
      (kLaunchRegisters * kThreads - kCopyRegisters * 128) / kMathThreads / 8 * 8;

  // Accumulators per math thread: S [64 x kBlockN] and O [64 x kHeadDim] over 128 threads.
  static constexpr int kScoreRegisters = kBlockN / 2;
  static constexpr int kOutputRegisters = kHeadDim / 2;
  static constexpr int kPvSteps = kBlockN / sm90::kMmaK;    // k16 steps of O += P V
  static constexpr int kQkSteps = kHeadDim / sm90::kMmaK;   // k16 steps of S = Q K^T

  static_assert(kHeadDim == 64 || kHeadDim == 128, "wgmma N of O = P V is the head dim");
  static_assert(kBlockM == 64 || kBlockM == 128, "one or two math warpgroups");
  static_assert(kQOffset % sm90::kSwizzleAtomBytes == 0 && kKOffset % sm90::kSwizzleAtomBytes == 0 &&
                    kVOffset % sm90::kSwizzleAtomBytes == 0 && kKvTileBytes % sm90::kSwizzleAtomBytes == 0 &&
                    kQPanelBytes % sm90::kSwizzleAtomBytes == 0 && kKvPanelBytes % sm90::kSwizzleAtomBytes == 0,
                "every swizzled panel starts on a swizzle period");
  static_assert(kBarrierOffset % 8 == 0, "mbarriers are 8-byte aligned");
  static_assert(kSharedBytes * kBlocksPerSm <= 227 * 1024, "shared memory of an H100 / H200 SM");
  static_assert(kMathRegisters <= 256 && kMathRegisters >= kScoreRegisters + kOutputRegisters + kBlockN / 4,
                "math warpgroups hold S, O and P in registers");
  static_assert(kCopyRegisters * 128 + kMathRegisters * kMathThreads <= kLaunchRegisters * kThreads,
                "setmaxnreg only moves registers the launch granted");
};

}  // namespace unisparse::cuda
