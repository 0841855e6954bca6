#include <cub/block/block_scan.cuh>

#include <algorithm>
#include <mutex>
#include <string>

#include "kernels/common/cuda_check.h"
#include "kernels/common/launch_limits.h"
#include "kernels/select/selector.h"

namespace unisparse::cuda {
namespace {

constexpr int kTopkThreads = limits::kTopkThreads;
constexpr int kRadixDigits = 256;  // 8-bit digits
constexpr int kNoDigit = kRadixDigits;  // a lane whose key is out of range or off the prefix
static_assert(kTopkThreads >= kRadixDigits && kTopkThreads % 32 == 0);

// Maps a float to a key whose unsigned order is the float order (-0 and +0 map to the same key, as
// they compare equal).
__device__ __forceinline__ uint32_t ordered_key(float value) {
  const uint32_t bits = __float_as_uint(value + 0.0f);
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

// One block per row: the top k - 1 scored pages (the last page is added by the attention). Ties at
// the threshold go to the lower page index, and the compaction walks pages in ascending order, so
// the output is already ascending (the tie rule of framework/DESIGN.md, Selection rules).
//
// kKeysInShared: the row's keys are converted once into dynamic shared memory (scored pages * 4
// bytes) and every pass reads them there; the four radix passes and the compaction then touch
// global memory once instead of five times, each of those times a chain of dependent tile loads.
// Rows longer than limits::kTopkMaxSharedPages read and convert the scores in every pass.
template <bool kKeysInShared>
__global__ void __launch_bounds__(kTopkThreads) topk_kernel(const __grid_constant__ TopkParams params) {
  using BlockScan = cub::BlockScan<int, kTopkThreads>;
  __shared__ typename BlockScan::TempStorage scan_storage;
  __shared__ int histogram[kRadixDigits];
  __shared__ uint32_t shared_prefix;
  __shared__ int shared_remaining;
  extern __shared__ uint32_t shared_keys[];  // [scored pages] with kKeysInShared

  const int row = blockIdx.x;
  const float* scores = params.page_scores + row * params.score_stride;
  int32_t* selected = params.selected + int64_t(row) * params.selected_stride;
  const int last_page = params.num_pages - 1;
  if (params.num_pages <= params.pages_to_pick) {  // every scored page makes the cut
    for (int page = threadIdx.x; page < last_page; page += blockDim.x) selected[page] = page;
    if (threadIdx.x == 0) params.selected_count[row] = last_page;
    return;
  }
  const int scored = last_page;
  const int wanted = params.pages_to_pick - 1;
  if constexpr (kKeysInShared) {
#pragma unroll 8
    for (int page = threadIdx.x; page < scored; page += kTopkThreads) shared_keys[page] = ordered_key(scores[page]);
    __syncthreads();
  }
  const auto key_at = [&](int page) {
    if constexpr (kKeysInShared)
      return shared_keys[page];
    else
      return ordered_key(scores[page]);
  };

  // Radix select, most significant byte first: the key of rank `wanted` (1-based, descending).
  uint32_t prefix = 0, mask = 0;
  int remaining = wanted;
  for (int shift = 24; shift >= 0 && wanted > 0; shift -= 8) {
    for (int i = threadIdx.x; i < kRadixDigits; i += kTopkThreads) histogram[i] = 0;
    __syncthreads();
    // Scores cluster in a few digits (the top byte is mostly the exponent), so the lanes of a warp
    // that share a digit add their count with one atomic instead of serialising on one address. The
    // loop bound is uniform across the block, so every lane of a warp takes part in the match.
    for (int tile = 0; tile < scored; tile += kTopkThreads) {
      const int page = tile + threadIdx.x;
      const uint32_t key = page < scored ? key_at(page) : 0;
      const int digit = page < scored && (key & mask) == prefix ? int((key >> shift) & 0xFF) : kNoDigit;
      const uint32_t peers = __match_any_sync(0xffffffffu, digit);
      if (digit != kNoDigit && threadIdx.x % 32 == __ffs(peers) - 1)
        atomicAdd(&histogram[digit], __popc(peers));
    }
    __syncthreads();
    // Digit search in parallel: thread i owns digit 255 - i, and the exclusive scan gives the count of
    // candidates above it. The chosen digit is the one where that count first reaches `remaining`.
    {
      const int digit = kRadixDigits - 1 - int(threadIdx.x);
      const int count = threadIdx.x < kRadixDigits ? histogram[digit] : 0;
      int above;
      BlockScan(scan_storage).ExclusiveSum(count, above);
      if (threadIdx.x < kRadixDigits && above < remaining && above + count >= remaining) {
        shared_prefix = prefix | (uint32_t(digit) << shift);
        shared_remaining = remaining - above;
      }
    }
    __syncthreads();
    prefix = shared_prefix;
    remaining = shared_remaining;
    mask |= 0xFFu << shift;
  }
  const uint32_t threshold = prefix;
  const int equal_to_take = remaining;  // keys equal to the threshold that still make the cut

  // One scan per tile counts both the greater keys (high half) and the keys equal to the threshold
  // (low half; a tile holds at most kTopkThreads of each). The first equal_to_take equal keys in page
  // order are taken, so a taken page's position is the greater keys before it plus the equal keys
  // before it that are taken.
  static_assert(kTopkThreads < (1 << 16));
  int taken_before = 0, equal_before = 0;
  for (int tile = 0; tile < scored && wanted > 0; tile += kTopkThreads) {
    const int page = tile + threadIdx.x;
    const uint32_t key = page < scored ? key_at(page) : 0;
    const bool greater = page < scored && key > threshold;
    const bool equal = page < scored && key == threshold;
    int rank, total;
    BlockScan(scan_storage).ExclusiveSum((int(greater) << 16) | int(equal), rank, total);
    __syncthreads();  // scan_storage is reused by the next tile
    const int greater_rank = rank >> 16, equal_rank = rank & 0xFFFF;
    const int equal_left = max(0, equal_to_take - equal_before);  // equal keys still to take
    const bool take = greater || (equal && equal_rank < equal_left);
    if (take) selected[taken_before + greater_rank + min(equal_rank, equal_left)] = page;
    taken_before += (total >> 16) + min(total & 0xFFFF, equal_left);
    equal_before += total & 0xFFFF;
  }
  if (threadIdx.x == 0) params.selected_count[row] = wanted;
}

int shared_key_bytes(int scored_pages) { return scored_pages * int(sizeof(uint32_t)); }

}  // namespace

void prepare_topk(int max_pages) {
  // The limit belongs to the kernel, not to a run: it only grows, so that a smaller run prepared
  // later does not shrink it under a larger one.
  static std::mutex mutex;
  static int prepared_bytes = 0;
  const int bytes = shared_key_bytes(std::min(std::max(max_pages - 1, 0), limits::kTopkMaxSharedPages));
  const std::lock_guard lock(mutex);
  if (bytes <= prepared_bytes) return;
  UNISPARSE_CUDA_CHECK(cudaFuncSetAttribute(topk_kernel<true>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
  prepared_bytes = bytes;
}

void launch_topk(const TopkParams& params, int rows, cudaStream_t stream) {
  if (rows == 0) return;
  const int scored = std::max(params.num_pages - 1, 0);
  if (scored <= limits::kTopkMaxSharedPages)
    topk_kernel<true><<<rows, kTopkThreads, shared_key_bytes(scored), stream>>>(params);
  else
    topk_kernel<false><<<rows, kTopkThreads, 0, stream>>>(params);
  UNISPARSE_CUDA_CHECK_LAUNCH();
}

}  // namespace unisparse::cuda
