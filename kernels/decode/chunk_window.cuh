#pragma once
// Where the chunks of a decode split live, looked up a warp's width at a time. A chunk's address
// takes up to two dependent global reads (the selection list, then the page table); done at the
// start of every chunk they would stall the copies behind them. Here lane l of a warp resolves
// chunk base + l of a window of 32, the next window's lookups are issued when a window is entered,
// and the warp reads a chunk with one shuffle: one stall per 32 chunks at most, none in steady
// state.
#include <cstdint>

#include "kernels/decode/decode_params.h"
#include "kernels/decode/decode_variants.cuh"

namespace unisparse::cuda {

// A chunk resolved to the pool: tokens [first_token, first_token + length) of the K/V arrays.
struct PoolSpan {
  int first_token;  // physical page * page_size + offset in the page
  int length;
};

template <class Variant>
class ChunkWindow {
 public:
  // Chunks [first, last) of selection row `row`, pool row page table `page_table`. Every lane of
  // the warp constructs it and calls span() together with the same index.
  __device__ ChunkWindow(const DecodeAttentionParams& p, const int32_t* page_table, int row,
                         int first, int last)
      : p_(p), page_table_(page_table), row_(row), last_(last), base_(first) {
    current_ = resolve(base_);
    next_ = resolve(base_ + 32);
  }

  // Chunk `index` (non-decreasing from call to call, warp-uniform, in [first, last)).
  __device__ PoolSpan span(int index) {
    while (index >= base_ + 32) {
      base_ += 32;
      current_ = next_;
      next_ = resolve(base_ + 32);
    }
    const int lane = index - base_;
    return {__shfl_sync(0xffffffffu, current_.first_token, lane),
            __shfl_sync(0xffffffffu, current_.length, lane)};
  }

 private:
  // This lane's chunk of the window starting at `window` (length 0 past the end).
  __device__ PoolSpan resolve(int window) const {
    const int index = window + int(threadIdx.x % 32);
    if (index >= last_) return {0, 0};
    const Chunk chunk = Variant::chunk(p_, row_, index);
    return {page_table_[chunk.page_in_row] * p_.page_size + chunk.begin, chunk.end - chunk.begin};
  }

  const DecodeAttentionParams& p_;
  const int32_t* page_table_;
  int row_, last_, base_;
  PoolSpan current_, next_;
};

}  // namespace unisparse::cuda
