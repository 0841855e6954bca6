#pragma once
// The sparsity variants of the one decode kernel skeleton (a variant, not a copy of the kernel). A
// variant says how many chunks a work item attends and which page and token span each chunk is; the
// skeleton loads and attends them. Dense decode is AllPages.
#include "kernels/decode/decode_params.h"

namespace unisparse::cuda {

struct Chunk {
  int page_in_row;  // index into the pool row's page table
  int begin;        // token offsets within the page, [begin, end); never empty (end > begin)
  int end;
};

__device__ __forceinline__ int pages_holding(const DecodeAttentionParams& p) {
  return (p.num_tokens + p.page_size - 1) / p.page_size;
}

__device__ __forceinline__ Chunk whole_page(const DecodeAttentionParams& p, int page) {
  return {page, 0, min(p.page_size, p.num_tokens - page * p.page_size)};
}

struct AllPages {
  __device__ static int count(const DecodeAttentionParams& p, int) { return pages_holding(p); }
  __device__ static Chunk chunk(const DecodeAttentionParams& p, int, int i) { return whole_page(p, i); }
};

// The cached selection (top k - 1 scored pages of the last selector step) plus the current last
// page; every page while the context holds at most k pages.
struct SelectedPages {
  __device__ static int count(const DecodeAttentionParams& p, int row) {
    const int pages = pages_holding(p);
    return pages <= p.pages_to_pick ? pages : p.maybe_selected_count[row] + 1;
  }
  // i < count <= selected_stride, so the list entry is read unconditionally: the count and the
  // entry are two independent loads, not one waiting for the other.
  __device__ static Chunk chunk(const DecodeAttentionParams& p, int row, int i) {
    const int pages = pages_holding(p);
    if (pages <= p.pages_to_pick) return whole_page(p, i);
    const int cached = p.maybe_selected_count[row];
    const int listed = p.maybe_selected[int64_t(row) * p.selected_stride + i];
    return whole_page(p, i < cached ? listed : pages - 1);
  }
};

// Token-exact sink + local window: [0, sink_end) from the sink pages, [local_begin, n) from the ring.
struct StreamingWindow {
  struct Window {
    int sink_end, local_begin, sink_chunks, local_chunks;
  };
  __device__ static Window window(const DecodeAttentionParams& p) {
    const int n = p.num_tokens;
    const int sink_end = min(p.sink_tokens, n);
    const int local_begin = max(sink_end, n - p.local_tokens);
    const int sink_chunks = (sink_end + p.page_size - 1) / p.page_size;
    const int local_chunks = local_begin < n ? (n - 1) / p.page_size - local_begin / p.page_size + 1 : 0;
    return {sink_end, local_begin, sink_chunks, local_chunks};
  }
  __device__ static int count(const DecodeAttentionParams& p, int) {
    const Window w = window(p);
    return w.sink_chunks + w.local_chunks;
  }
  __device__ static Chunk chunk(const DecodeAttentionParams& p, int, int i) {
    const Window w = window(p);
    if (i < w.sink_chunks) return {i, 0, min(p.page_size, w.sink_end - i * p.page_size)};
    const int page = w.local_begin / p.page_size + (i - w.sink_chunks);
    const int first = page * p.page_size;
    return {p.sink_pages + page % p.ring_pages, max(first, w.local_begin) - first,
            min(first + p.page_size, p.num_tokens) - first};
  }
};

}  // namespace unisparse::cuda
