#pragma once
// Exports the sparsity plans of one point as a safetensors file of int32 arrays, in the two forms
// other libraries consume: CSR page / block lists (FlashInfer page tables: indptr, indices) and
// FlexAttention BlockMask arrays (kv_num_blocks, kv_indices, ready for BlockMask.from_kv_blocks with
// BLOCK_SIZE = the page or block size). __metadata__ records what is needed to rebuild the masks
// token-exactly (sizes, head kinds, sink and local tokens).
#include <string>

#include "framework/backend/backend.h"
#include "framework/sparse/plan.h"
#include "framework/workload/workload.h"

namespace unisparse {

// Writes one point's decode selections. For each step s (the KV length is context_len + s + 1):
//   decode.step{s}.indptr         [rows + 1]                          rows = batch * num_q_heads
//   decode.step{s}.indices        [nnz]       row b * num_q_heads + h: ascending physical page ids
//   decode.step{s}.kv_num_blocks  [batch, num_q_heads, 1]
//   decode.step{s}.kv_indices     [batch, num_q_heads, 1, num_pages]  num_pages = pages at step s;
//                                 the first kv_num_blocks entries are the row's pages, then zeros
// __metadata__ (strings): plan=decode, page_size, logical_page_size, token_budget, reuse_interval,
// gqa_selection, mode, batch, num_q_heads, num_kv_heads, steps, context_len, sink_tokens,
// local_tokens, kv_head_kinds (comma-separated per KV head), workload, seed.
// Throws std::invalid_argument when the selections do not fit the workload (row count, page ids
// not ascending or past the last page); InputError when the file cannot be written.
void export_decode_plan(const std::string& path, const Workload& workload, const DecodePlan& plan,
                        const DecodeRun& run);

// Writes a prefill plan: per query head the active KV blocks of every query block (query and KV
// blocks are both plan.block_size tokens), with the blocks that dense_causal and streaming heads make
// active materialised:
//   prefill.indptr         [num_q_heads * num_q_blocks + 1]   row q_head * num_q_blocks + q_block
//   prefill.indices        [nnz]                              ascending KV block ids
//   prefill.kv_num_blocks  [1, num_q_heads, num_q_blocks]
//   prefill.kv_indices     [1, num_q_heads, num_q_blocks, num_q_blocks]   padded with zeros
// A block is active when at least one (query, key) pair in it is visible; the token-exact mask
// (causal, and sink / local for streaming heads) still applies inside active blocks.
// __metadata__: plan=prefill, block_size, context_len, num_q_heads, num_kv_heads, num_q_blocks,
// sink_tokens, local_tokens, head_modes (comma-separated per query head), workload, seed.
// Throws std::invalid_argument when the plan does not fit the workload.
void export_prefill_plan(const std::string& path, const Workload& workload, const PrefillPlan& plan);

}  // namespace unisparse
