#pragma once
// The sparsity plans both backends consume (framework/DESIGN.md, Plans). The active list is built
// outside any kernel; kernels and the CPU backend only iterate over it.
#include <cstdint>
#include <span>
#include <vector>

#include "framework/config/point.h"
#include "framework/core/csr.h"
#include "framework/core/types.h"
#include "framework/sparse/page_selector_kind.h"

namespace unisparse {

// Half-open token interval [begin, end).
struct TokenRange {
  int32_t begin = 0;
  int32_t end = 0;
  int32_t size() const { return end - begin; }
  bool operator==(const TokenRange&) const = default;
};

// Decode: what each query head attends at each step.
struct DecodePlan {
  SparsityMode mode = SparsityMode::dense;
  HeadLayout heads;          // static sparsity (streaming KV heads see sink + local tokens)
  PageGeometry geometry;     // paging of the KV cache and of the key statistics
  SelectionPolicy policy;    // dynamic sparsity of dense heads (used when uses_page_selection(mode))
  PageSelectorKind selector = PageSelectorKind::quest;  // what ranks the pages under that policy
  // KV cache storage format; fp32/fp16/bf16 = the workload's values as they are, int8/int4/fp8 =
  // quantized per token (framework/DESIGN.md, KV formats)
  DType kv_storage = DType::fp32;
  // How the cuda backend fills its KV cache before step 0: upload the prompt's K/V, or run the
  // prefill over the prompt (make_prefill_plan of these heads: streaming heads as streaming prefill
  // heads when the mode has them, the others dense causal; tiles of prefill_block_size tokens) and
  // write the cache from its device K/V. Either way the cache holds the same bytes. The CPU backend
  // reads the workload's K/V directly and ignores both.
  CacheFill cache_fill = CacheFill::upload;
  int prefill_block_size = 64;
};

// The decode plan of a sweep point over a workload's head layout (the layout comes from the workload:
// a trace's head types or the generator's streaming fraction).
DecodePlan make_decode_plan(const PointConfig& point, const HeadLayout& heads);

// Result of decode page selection: selections[s] has one row per (batch b, query head h), row index
// b * num_q_heads + h, holding the ascending physical page ids attended at step s. Dense heads in
// modes without page selection list every page; streaming heads list the pages their sink and local
// tokens touch (the attention itself is token exact).
using DecodeSelections = std::vector<Csr>;  // [steps]

// The exact token set a (step, batch, q head) row attends, as ascending disjoint ranges:
//  streaming head: [0, sink) ∪ [n - local, n); otherwise the tokens of the listed pages, clipped to n.
std::vector<TokenRange> attended_ranges(bool streaming_head, int sink_tokens, int local_tokens,
                                        int physical_page_size, std::span<const int32_t> pages,
                                        int num_tokens);

// Prefill: per query head, a mode; block_list heads read their active KV blocks from a CSR with one
// row per (q head, query block).
enum class PrefillHeadMode { dense_causal, streaming, block_list };

struct PrefillPlan {
  int block_size = 64;                      // query and KV block, tokens
  std::vector<PrefillHeadMode> head_mode;   // [num_q_heads]
  int sink_tokens = 128;
  int local_tokens = 4096;
  Csr blocks;  // rows = num_q_heads * num_q_blocks (row q_head * num_q_blocks + q_block)

  // Whether key j is visible to query i of a head in the given mode (token exact, causal).
  bool visible(PrefillHeadMode mode, int query, int key) const;
};

// A plan whose streaming KV heads (per the layout) run streaming and the rest dense causal.
PrefillPlan make_prefill_plan(const ModelShape& shape, const HeadLayout& heads, int block_size,
                              bool use_streaming);

}  // namespace unisparse
