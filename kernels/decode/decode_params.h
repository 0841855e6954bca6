#pragma once
// Parameters of the split-KV decode attention kernel family and of its merge step.
#include <cuda_runtime.h>

#include <cstdint>

namespace unisparse::cuda {

struct DecodeAttentionParams {
  const void* keys;    // [num_pages, page_size, row bytes] in the pool's storage format
  const void* values;  // [num_pages, page_size, row bytes]
  const float2* maybe_key_params;    // int8 / int4: [num_pages * page_size] (scale, zero) per token
  const float2* maybe_value_params;  // int8 / int4: [num_pages * page_size]
  const float* maybe_key_row_scale;    // fp8: [pool rows]
  const float* maybe_value_row_scale;  // fp8: [pool rows]
  const int32_t* page_indptr;   // [pool rows + 1]
  const int32_t* page_indices;  // [pool rows * pages_per_row] physical page ids
  const float* query;           // [batch, num_q_heads, head_dim] this step's decode queries
  const int32_t* kv_head_of_pool_head;  // [pool_heads] model KV head of each pool head
  // Page selection (SelectedPages variant): selection row = pool_row * (group_size / kGroup) + sub.
  const int32_t* maybe_selected;        // [selection rows, selected_stride] ascending pages
  const int32_t* maybe_selected_count;  // [selection rows]
  int selected_stride;
  int pages_to_pick;  // k = token_budget / page_size
  // Split-KV: split blockIdx.x of num_splits takes chunks [s * n / num_splits, (s + 1) * n /
  // num_splits) of the n its work item attends (split_plan.h), and writes its partial result for
  // decode_merge_kernel. With one split the block writes the output itself.
  float* partial_out;  // [batch, num_q_heads, max_splits, head_dim] normalised within the split
  float* partial_max;  // [batch, num_q_heads, max_splits] max scaled logit (log2 units)
  float* partial_sum;  // [batch, num_q_heads, max_splits] sum of exp2(logit - max)
  float* out;          // [batch, steps, num_q_heads, head_dim] (written here when num_splits == 1)
  int max_splits;
  int num_splits;
  int steps;
  int step;
  int pool_heads;
  int num_q_heads;
  int group_size;  // query heads per KV head in the model
  int page_size;
  int num_tokens;  // tokens visible to this step's query
  // Streaming pools: sink + ring layout (PagedKvView) and the window.
  int sink_tokens;
  int local_tokens;
  int sink_pages;
  int ring_pages;
  float scale_log2;  // softmax scale * log2(e)
};

// grid (pool rows * group_size, head_dim / kMergeChannels): the query heads of one pool.
struct DecodeMergeParams {
  const float* partial_out;  // [batch, num_q_heads, max_splits, head_dim]
  const float* partial_max;  // [batch, num_q_heads, max_splits]
  const float* partial_sum;  // [batch, num_q_heads, max_splits]
  const int32_t* kv_head_of_pool_head;  // [pool_heads]
  float* out;  // [batch, steps, num_q_heads, head_dim]
  int num_splits;
  int max_splits;
  int pool_heads;
  int group_size;
  int num_q_heads;
  int head_dim;
  int steps;
  int step;
};

}  // namespace unisparse::cuda
