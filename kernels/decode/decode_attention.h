#pragma once
// Split-KV (flash-decoding) attention of one decode query per head over one KV pool, and the merge of
// the splits.
#include <cuda_runtime.h>

#include "framework/core/types.h"
#include "kernels/decode/decode_params.h"

namespace unisparse::cuda {

enum class DecodeVariant { all_pages, selected_pages, streaming_window };

// Grid (num_splits, pool_rows * group_size / heads_per_load). heads_per_load query heads share every
// page load: the whole group when the group shares its pages, 1 for per-query-head selection.
void launch_decode_attention(const DecodeAttentionParams& params, DecodeVariant variant,
                             DType storage, int head_dim, int heads_per_load, int pool_rows,
                             int num_splits, cudaStream_t stream);

void launch_decode_merge(const DecodeMergeParams& params, int batch, cudaStream_t stream);

}  // namespace unisparse::cuda
