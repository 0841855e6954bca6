#pragma once
// Which KV tiles one CTA (a query head and a query block) attends, and which of them need token
// masking. Computed once before the hot loop: the loop only walks the list (framework/DESIGN.md,
// Plans), so an inactive tile costs neither a load nor any math.
#include <cstdint>

#include "kernels/prefill/prefill_params.h"

namespace unisparse::cuda {

// Keys per KV tile of the sm_80 kernel's inner loop; a plan block of 128 tokens is two consecutive
// tiles. The sm_90a kernel walks tiles of a whole plan block (kTileKeys below).
inline constexpr int kKvTile = 64;

// The active tiles in the order they are visited: either up to two contiguous tile ranges (dense
// causal: [0, diagonal]; streaming: the sink tiles, then the local-window tiles) or the tiles of the
// blocks a CSR row lists.
struct ActiveKvTiles {
  int first_begin = 0, first_end = 0;    // [first_begin, first_end), tiles
  int second_begin = 0, second_end = 0;  // [second_begin, second_end), tiles, after the first range
  const int32_t* maybe_block_ids = nullptr;  // block-list heads: the row's KV block ids
  int tiles_per_block = 1;
  int count = 0;

  __host__ __device__ int tile(int i) const {
    if (maybe_block_ids != nullptr)
      return maybe_block_ids[i / tiles_per_block] * tiles_per_block + i % tiles_per_block;
    const int first_count = first_end - first_begin;
    return i < first_count ? first_begin + i : second_begin + (i - first_count);
  }
};

// Token-exact visibility of one head for the queries [query_begin, query_last] of a CTA.
struct TileVisibility {
  PrefillTileMode mode;
  int seq_len, sink_tokens, local_tokens;
  int query_begin, query_last;  // query_last < seq_len: rows past the sequence end are never stored

  __host__ __device__ bool visible(int query, int key) const {
    if (key >= seq_len || key > query) return false;
    if (mode == PrefillTileMode::streaming) return key < sink_tokens || query - key < local_tokens;
    return true;  // dense causal; block-list heads are causal inside their listed blocks
  }
  // Whether every (query of the CTA, key of the tile) pair is visible, so the tile takes no mask.
  template <int kTileKeys = kKvTile>
  __host__ __device__ bool fully_visible(int tile) const {
    const int key_begin = tile * kTileKeys, key_last = key_begin + kTileKeys - 1;
    if (key_last >= seq_len || key_last > query_begin) return false;
    if (mode == PrefillTileMode::streaming)
      return key_last < sink_tokens || query_last - key_begin < local_tokens;
    return true;
  }
};

// Tiles of kTileKeys keys; a plan block is a whole number of tiles.
template <int kTileKeys = kKvTile>
__host__ __device__ inline ActiveKvTiles enumerate_active_tiles(const PrefillParams& params,
                                                                int q_head, int q_block,
                                                                const TileVisibility& rows) {
  ActiveKvTiles active;
  const int last_tile = rows.query_last / kTileKeys;  // the diagonal tile of the last query
  switch (rows.mode) {
    case PrefillTileMode::dense_causal:
      active.first_end = last_tile + 1;
      break;
    case PrefillTileMode::streaming: {
      const int sink_keys = min(params.sink_tokens, rows.query_last + 1);
      active.first_end = (sink_keys + kTileKeys - 1) / kTileKeys;
      if (params.local_tokens > 0) {
        // The oldest key any query of the block keeps in its window.
        const int local_first_key = max(0, rows.query_begin - params.local_tokens + 1);
        active.second_begin = max(local_first_key / kTileKeys, active.first_end);
        active.second_end = max(last_tile + 1, active.second_begin);
      }
      break;
    }
    case PrefillTileMode::block_list: {
      const int row = q_head * params.num_q_blocks + q_block;
      const int32_t row_begin = params.maybe_block_indptr[row];
      active.maybe_block_ids = params.maybe_block_indices + row_begin;
      active.tiles_per_block = params.block_size / kTileKeys;
      active.count = (params.maybe_block_indptr[row + 1] - row_begin) * active.tiles_per_block;
      return active;
    }
  }
  active.count = (active.first_end - active.first_begin) + (active.second_end - active.second_begin);
  return active;
}

}  // namespace unisparse::cuda
