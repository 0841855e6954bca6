#pragma once
// Split-KV (flash-decoding) attention of one decode query per head over one KV pool, and the merge of
// the splits.
#include <cuda_runtime.h>

#include "framework/core/types.h"
#include "kernels/decode/decode_params.h"

namespace unisparse::cuda {

enum class DecodeVariant { all_pages, selected_pages, streaming_window };

// The kernel instantiation one pool's attention launches. heads_per_load query heads share every
// page load: the whole group when the group shares its pages, 1 for per-query-head selection.
struct DecodeKernelKey {
  DecodeVariant variant;
  DType storage;
  int head_dim;
  int heads_per_load;
};

// Readies the kernel of `key` for launching (its dynamic shared memory limit) and returns how many
// of its blocks one SM holds at once, the occupancy the split planner fills. Call it before a
// stream capture: it is not a stream operation.
int prepare_decode_attention(const DecodeKernelKey& key);

// Grid (params.num_splits, work_items), work_items = pool rows * group_size / heads_per_load.
void launch_decode_attention(const DecodeAttentionParams& params, const DecodeKernelKey& key,
                             int work_items, cudaStream_t stream);

// The merge of one pool's splits: grid (pool rows * group_size, head_dim / kMergeChannels).
void launch_decode_merge(const DecodeMergeParams& params, int pool_rows, cudaStream_t stream);

}  // namespace unisparse::cuda
