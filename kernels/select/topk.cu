#include <cub/block/block_scan.cuh>

#include "kernels/common/cuda_check.h"
#include "kernels/select/selector.h"

namespace unisparse::cuda {
namespace {

constexpr int kTopkThreads = 512;

// Maps a float to a key whose unsigned order is the float order (-0 and +0 map to the same key, as
// they compare equal).
__device__ __forceinline__ uint32_t ordered_key(float value) {
  const uint32_t bits = __float_as_uint(value + 0.0f);
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

// One block per row: the top k - 1 scored pages (the last page is added by the attention). Ties at the threshold go to the lower page index, and the compaction walks pages
// in ascending order, so the output is already ascending (DESIGN.md §1 tie rule).
__global__ void __launch_bounds__(kTopkThreads) topk_kernel(const __grid_constant__ TopkParams params) {
  using BlockScan = cub::BlockScan<int, kTopkThreads>;
  __shared__ typename BlockScan::TempStorage scan_storage;
  __shared__ int histogram[256];
  __shared__ uint32_t shared_prefix;
  __shared__ int shared_remaining;

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

  // Radix select, most significant byte first: the key of rank `wanted` (1-based, descending).
  uint32_t prefix = 0, mask = 0;
  int remaining = wanted;
  for (int shift = 24; shift >= 0 && wanted > 0; shift -= 8) {
    for (int i = threadIdx.x; i < 256; i += blockDim.x) histogram[i] = 0;
    __syncthreads();
    for (int page = threadIdx.x; page < scored; page += blockDim.x) {
      const uint32_t key = ordered_key(scores[page]);
      if ((key & mask) == prefix) atomicAdd(&histogram[(key >> shift) & 0xFF], 1);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      int above = 0;
      for (int digit = 255; digit >= 0; --digit) {
        if (above + histogram[digit] >= remaining) {
          shared_prefix = prefix | (uint32_t(digit) << shift);
          shared_remaining = remaining - above;
          break;
        }
        above += histogram[digit];
      }
    }
    __syncthreads();
    prefix = shared_prefix;
    remaining = shared_remaining;
    mask |= 0xFFu << shift;
  }
  const uint32_t threshold = prefix;
  const int equal_to_take = remaining;  // keys equal to the threshold that still make the cut

  int taken_before = 0, equal_before = 0;
  for (int tile = 0; tile < scored && wanted > 0; tile += blockDim.x) {
    const int page = tile + threadIdx.x;
    const uint32_t key = page < scored ? ordered_key(scores[page]) : 0;
    const bool greater = page < scored && key > threshold;
    const bool equal = page < scored && key == threshold;
    int equal_rank, equal_total;
    BlockScan(scan_storage).ExclusiveSum(int(equal), equal_rank, equal_total);
    __syncthreads();
    const bool take = greater || (equal && equal_before + equal_rank < equal_to_take);
    int position, taken_total;
    BlockScan(scan_storage).ExclusiveSum(int(take), position, taken_total);
    __syncthreads();
    if (take) selected[taken_before + position] = page;
    taken_before += taken_total;
    equal_before += equal_total;
  }
  if (threadIdx.x == 0) params.selected_count[row] = wanted;
}

}  // namespace

void launch_topk(const TopkParams& params, int rows, cudaStream_t stream) {
  if (rows == 0) return;
  topk_kernel<<<rows, kTopkThreads, 0, stream>>>(params);
  UNISPARSE_CUDA_CHECK_LAUNCH();
}

}  // namespace unisparse::cuda
