#pragma once
// The parameters of the block-sparse prefill kernel: one plain struct, passed by value as
// `const __grid_constant__`. Q/K/V are 16-bit (fp16 or bf16, chosen by the launch's element type);
// the output is float so that the comparison with the fp64 reference sees the kernel's own rounding.
#include <cstdint>

namespace unisparse::cuda {

// Per query head; the numeric values are shared with the host (PrefillHeadMode order).
enum class PrefillTileMode : int8_t { dense_causal = 0, streaming = 1, block_list = 2 };

struct PrefillParams {
  const void* q;  // [batch, num_q_heads, seq_len, head_dim]
  const void* k;  // [batch, num_kv_heads, seq_len, head_dim]
  const void* v;  // [batch, num_kv_heads, seq_len, head_dim]
  float* out;     // [batch, num_q_heads, seq_len, head_dim]

  // Element strides (the innermost dimension, head_dim, is contiguous).
  int64_t q_batch_stride, q_head_stride, q_row_stride;
  int64_t kv_batch_stride, kv_head_stride, kv_row_stride;
  int64_t out_batch_stride, out_head_stride, out_row_stride;

  int32_t seq_len;       // T, prefill tokens (query i sees keys j <= i)
  int32_t num_q_heads;
  int32_t group_size;    // query heads per KV head (GQA): kv head = q head / group_size
  int32_t block_size;    // query and KV block of the plan, tokens (the query tile of one CTA)
  int32_t num_q_blocks;  // ceil(T / block_size)

  const PrefillTileMode* head_mode;  // [num_q_heads]
  int32_t sink_tokens;               // streaming heads: keys j < sink_tokens are visible ...
  int32_t local_tokens;              // ... and keys with i - j < local_tokens

  // Block-list heads: CSR with one row per (q head, query block), row q_head * num_q_blocks +
  // q_block, listing KV block ids of block_size tokens (FlexAttention kv_num_blocks / kv_indices).
  const int32_t* maybe_block_indptr;   // [num_q_heads * num_q_blocks + 1], null without such heads
  const int32_t* maybe_block_indices;  // [maybe_block_indptr[last]]

  float softmax_scale_log2;  // log2(e) / sqrt(head_dim): logits are taken in base 2
};

}  // namespace unisparse::cuda
