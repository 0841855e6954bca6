#pragma once
// Every launch limit of the decode path in one place: the largest page, head dimension and split
// count a kernel is built for, the threads of each kernel, and the constants the split planner
// (kernels/decode/split_plan.h) weighs. Host and device code read them from here, so a limit cannot
// be raised in one kernel and forgotten in another.

namespace unisparse::cuda::limits {

// Tokens of a physical page. The append, the statistics and the decode kernels index a page's
// tokens with per-page loops that assume no more.
inline constexpr int kMaxPageSize = 128;
// Channels of a head (64 and 128 are instantiated; UNISPARSE_DISPATCH_HEAD_DIM).
inline constexpr int kMaxHeadDim = 128;
// Splits of one work item: the merge keeps one weight per split in shared memory.
inline constexpr int kMaxSplits = 256;

// Decode attention blocks: 4 warps. The CUDA-core kernel covers a token row with head_dim / 8
// lanes (16-byte loads), the tensor-core kernel gives each warp its own tiles.
inline constexpr int kDecodeThreads = 128;
inline constexpr int kDecodeWarps = kDecodeThreads / 32;
// Merge of the splits: one block per (query head row, slice of kMergeChannels channels).
inline constexpr int kMergeThreads = 128;
inline constexpr int kMergeChannels = 32;

// Page scores: each thread scores kScoreLogicalPerThread consecutive logical pages (one 4-byte load
// per channel of kmax and of kmin), in blocks of about kScoreTargetThreads threads that cover whole
// physical pages. Two pages a thread keep enough threads to fill the GPU at batch 1 (16k threads at
// 128k tokens, 4 dense KV heads, logical pages of 16).
inline constexpr int kScoreLogicalPerThread = 2;
inline constexpr int kScoreTargetThreads = 64;
inline constexpr int kScoreMaxThreads = 256;
// The statistics' logical-page stride is padded to a multiple of this, so that vector loads of a
// thread's pages stay aligned and inside the row.
inline constexpr int kStatsPageAlignment = 8;
// Top-k: one block per selection row; the row's keys stay in shared memory up to this many pages.
inline constexpr int kTopkThreads = 512;
inline constexpr int kTopkMaxSharedPages = 32768;

// Append: one warp per pool row.
inline constexpr int kAppendWarpsPerBlock = 8;

// The split planner's model of a block's fixed cost (start: the query and the first page-table
// lookups; end: the merge of its lanes and the partial write), in tokens of attention work. A
// modelling constant, not a measurement: it only breaks near-ties between split counts.
inline constexpr int kSplitFixedCostTokens = 64;

}  // namespace unisparse::cuda::limits
