#pragma once
// What the decode attention kernels share around their main loops: which work item a block serves,
// and the end of a block, where the online-softmax states of its lanes (token lanes or warps) are
// merged into the split's partial result for decode_merge_kernel.
#include <cstdint>

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

// Called by every thread after a __syncthreads that follows the lanes' writes: lane_max / lane_sum
// [kLanes][kGroup] are each lane's running max (log2 units; -inf for a lane that saw no token) and
// softmax sum, lane_acc [kLanes][kGroup][kHeadDim] its unnormalised output in the units of its own
// max. Rescales every lane to the block's max, sums, and writes the split's normalised output, max
// and sum.
template <int kLanes, int kGroup, int kHeadDim, int kThreads>
__device__ __forceinline__ void write_split_partial(const DecodeAttentionParams& p,
                                                    const DecodeWorkItem& item,
                                                    const float (&lane_max)[kLanes][kGroup],
                                                    const float (&lane_sum)[kLanes][kGroup],
                                                    const float (&lane_acc)[kLanes][kGroup][kHeadDim]) {
  for (int i = threadIdx.x; i < kGroup * kHeadDim; i += kThreads) {
    const int g = i / kHeadDim, channel = i % kHeadDim;
    float block_max = -INFINITY;
#pragma unroll
    for (int lane = 0; lane < kLanes; ++lane) block_max = fmaxf(block_max, lane_max[lane][g]);
    float sum = 0, total = 0;
#pragma unroll
    for (int lane = 0; lane < kLanes; ++lane) {
      if (lane_max[lane][g] == -INFINITY) continue;
      const float factor = exp2f(lane_max[lane][g] - block_max);
      sum += lane_acc[lane][g][channel] * factor;
      total += lane_sum[lane][g] * factor;
    }
    const int64_t head_row =
        (int64_t(item.batch) * p.num_q_heads + item.first_q_head + g) * p.max_splits + blockIdx.x;
    p.partial_out[head_row * kHeadDim + channel] = total > 0 ? sum / total : 0.0f;
    if (channel == 0) {
      p.partial_max[head_row] = block_max;
      p.partial_sum[head_row] = total;
    }
  }
}

}  // namespace unisparse::cuda
