#pragma once
// What the decode attention kernels share around their main loops: which work item and which chunks
// a block serves, and the end of a block, where the online-softmax states of its lanes (token lanes
// or warps) are merged into the split's partial result for decode_merge_kernel, or, for a work item
// of one split, into the output itself.
#include <cstdint>

#include "kernels/common/online_softmax.cuh"
#include "kernels/decode/decode_params.h"

namespace unisparse::cuda {

// A block serves kGroup query heads of one KV head of one sequence (blockIdx.y) over the chunks of
// split blockIdx.x.
struct DecodeWorkItem {
  int pool_row;       // b * pool_heads + head in pool
  int selection_row;  // row of the cached page selection (SelectedPages)
  int batch;
  int first_q_head;
};

template <int kGroup>
__device__ __forceinline__ DecodeWorkItem decode_work_item(const DecodeAttentionParams& p) {
  const int subgroups = p.group_size / kGroup;
  const int pool_row = blockIdx.y / subgroups;
  const int kv_head = p.kv_head_of_pool_head[pool_row % p.pool_heads];
  return {pool_row, int(blockIdx.y), pool_row / p.pool_heads,
          kv_head * p.group_size + (int(blockIdx.y) % subgroups) * kGroup};
}

// The chunks [first, last) of split blockIdx.x among num_splits over a work item's `chunks`: the
// splits differ by at most one chunk, whatever the count at this step.
struct SplitRange {
  int first;
  int last;
};
__device__ __forceinline__ SplitRange split_range(const DecodeAttentionParams& p, int chunks) {
  const int split = blockIdx.x;
  return {int(int64_t(split) * chunks / p.num_splits), int(int64_t(split + 1) * chunks / p.num_splits)};
}

// Called by every thread after a __syncthreads that follows the lanes' writes: lane_state
// [kLanes][kGroup] is each lane's softmax state (max -inf for a lane that saw no token) and
// lane_acc [kLanes][kGroup][kHeadDim] its unnormalised output in the units of its own max. Brings
// every lane to the block's max, sums, and writes the split's normalised output, max and sum, or
// with one split the normalised output into p.out.
template <int kLanes, int kGroup, int kHeadDim, int kThreads>
__device__ __forceinline__ void write_split_partial(const DecodeAttentionParams& p,
                                                    const DecodeWorkItem& item,
                                                    const SoftmaxState (&lane_state)[kLanes][kGroup],
                                                    const float (&lane_acc)[kLanes][kGroup][kHeadDim]) {
  for (int i = threadIdx.x; i < kGroup * kHeadDim; i += kThreads) {
    const int g = i / kHeadDim, channel = i % kHeadDim;
    const SoftmaxState block = merge_states(kLanes, [&](int lane) { return lane_state[lane][g]; });
    float sum = 0;
#pragma unroll
    for (int lane = 0; lane < kLanes; ++lane)
      sum += lane_acc[lane][g][channel] * lane_state[lane][g].factor_to(block.max);
    const float normalised = block.sum > 0 ? sum / block.sum : 0.0f;
    const int q_head = item.first_q_head + g;
    if (p.num_splits == 1) {
      p.out[((int64_t(item.batch) * p.steps + p.step) * p.num_q_heads + q_head) * kHeadDim + channel] =
          normalised;
      continue;
    }
    const int64_t head_row = (int64_t(item.batch) * p.num_q_heads + q_head) * p.max_splits + blockIdx.x;
    p.partial_out[head_row * kHeadDim + channel] = normalised;
    if (channel == 0) {
      p.partial_max[head_row] = block.max;
      p.partial_sum[head_row] = block.sum;
    }
  }
}

}  // namespace unisparse::cuda
