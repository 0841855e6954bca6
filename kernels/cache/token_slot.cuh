#pragma once
// Where a token of a pool row lives: the physical page and the token's offset in it.
#include "kernels/cache/paged_kv_cache.h"

namespace unisparse::cuda {

struct TokenSlot {
  int physical_page;
  int offset;
};

// Dense pools: through the page table. Streaming pools: tokens below sink_tokens sit in the sink
// pages, later tokens in ring page (token / page_size) % ring_pages after them.
template <class KvType>
__device__ __forceinline__ TokenSlot token_slot(const PagedKvView<KvType>& pool, int row, int token) {
  const int page = token / pool.page_size;
  const int offset = token - page * pool.page_size;
  int page_in_row = page;
  if (pool.streaming && token >= pool.sink_tokens) page_in_row = pool.sink_pages + page % pool.ring_pages;
  return {pool.page_indices[pool.page_indptr[row] + page_in_row], offset};
}

}  // namespace unisparse::cuda
