#pragma once
// Query-aware page selection of dense KV heads (Quest scores over hierarchical pages,
// framework/DESIGN.md, Selection rules): score every logical page, max-reduce to physical pages,
// combine over the query group when the selection is shared per KV head, then keep the top pages
// with the last page forced in.
#include <cuda_runtime.h>

#include <cstdint>

#include "framework/core/types.h"
#include "kernels/cache/paged_kv_cache.h"

namespace unisparse::cuda {

// A selection row is (b, dense pool head, query head in group) for per_query_head, else
// (b, dense pool head): row = pool_row * group_size + g, or row = pool_row.
inline int selection_rows_per_pool_row(GqaSelection gqa, int group_size) {
  return gqa == GqaSelection::per_query_head ? group_size : 1;
}

struct PageScoreParams {
  const void* key_max;  // [pool rows, head_dim, logical_page_stride] KV dtype
  const void* key_min;  // [pool rows, head_dim, logical_page_stride]
  const float* query;   // [batch, num_q_heads, head_dim] this step's decode queries
  const int32_t* kv_head_of_pool_head;  // [pool_heads] model KV head of each pool head
  float* page_scores;   // [selection rows, score_stride] physical-page scores (fp32)
  int64_t score_stride;
  int pool_heads;
  int num_q_heads;
  int head_dim;
  int logical_page_stride;  // PoolShape::logical_pages_per_row(), a multiple of kStatsPageAlignment
  int logical_per_physical;
  int num_scored_pages;  // every page but the last, current one
  GqaSelection gqa;
};

// The physical pages one page-score block covers: whole physical pages (the max over a page's
// logical pages stays in the block) whose logical pages split evenly into the threads'
// kScoreLogicalPerThread each, about kScoreTargetThreads threads. Host-only.
int score_block_physical_pages(int logical_per_physical);

struct TopkParams {
  const float* page_scores;  // [rows, score_stride]
  int64_t score_stride;
  int num_pages;       // pages holding tokens; the last one (num_pages - 1) is forced in, not scored
  int pages_to_pick;   // k = token_budget / page_size, the last page included
  // The cached selection: the top k - 1 scored pages (every scored page while the context holds at
  // most k pages), ascending page indices of the row; the current last page is not in it.
  int32_t* selected;   // [rows, selected_stride]
  int32_t* selected_count;  // [rows]
  int selected_stride;
};

// Launches the score kernel for every pool row (grid over pages and rows).
void launch_page_scores(const PageScoreParams& params, DType kv_dtype, int group_size, int pool_rows,
                        cudaStream_t stream);

// Readies the top-k kernel for rows of up to max_pages pages (its shared-memory limit). Call it
// before a stream capture: it is not a stream operation.
void prepare_topk(int max_pages);
// One block per selection row: radix select of the (k-1)-th largest score, then an ordered
// compaction that keeps ties at the threshold by ascending page index.
void launch_topk(const TopkParams& params, int rows, cudaStream_t stream);

}  // namespace unisparse::cuda
