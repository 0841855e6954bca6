// The active-tile lists both prefill kernels walk (active_tiles.cuh, called here on the host), for the
// sm_80 kernel's 64-key tiles and the sm_90a kernel's tiles of a whole block, against brute force over
// the token rule of the plan (PrefillPlan::visible, the CPU backend's): a dense causal or streaming
// CTA visits exactly the tiles holding a visible (query, key) pair, in ascending order, once each; a
// block-list CTA visits the tiles of its listed blocks; and a tile skips the mask only when every
// pair in it is visible.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "framework/sparse/plan.h"
#include "kernels/prefill/active_tiles.cuh"

namespace unisparse::cuda {
namespace {

struct CtaRows {
  int query_begin, query_last;
};

CtaRows rows_of(int q_block, int block_size, int seq_len) {
  const int begin = q_block * block_size;
  return {begin, std::min(begin + block_size, seq_len) - 1};
}

template <int kTileKeys>
void check_implicit_modes(int seq_len, int block_size, int sink, int local) {
  PrefillPlan plan;
  plan.block_size = block_size;
  plan.sink_tokens = sink;
  plan.local_tokens = local;
  PrefillParams params{};
  params.seq_len = seq_len;
  params.block_size = block_size;
  params.num_q_blocks = (seq_len + block_size - 1) / block_size;
  params.sink_tokens = sink;
  params.local_tokens = local;
  const int num_tiles = (seq_len + kTileKeys - 1) / kTileKeys;
  for (PrefillHeadMode mode : {PrefillHeadMode::dense_causal, PrefillHeadMode::streaming})
    for (int q_block = 0; q_block < params.num_q_blocks; ++q_block) {
      const CtaRows cta = rows_of(q_block, block_size, seq_len);
      const TileVisibility rows{PrefillTileMode(int(mode)), seq_len, sink, local, cta.query_begin,
                                cta.query_last};
      const ActiveKvTiles active = enumerate_active_tiles<kTileKeys>(params, 0, q_block, rows);
      std::vector<int> expected, visited;
      for (int tile = 0; tile < num_tiles; ++tile) {
        bool any = false, all = true;
        for (int query = cta.query_begin; query <= cta.query_last; ++query)
          for (int key = tile * kTileKeys; key < (tile + 1) * kTileKeys; ++key) {
            const bool seen = key < seq_len && plan.visible(mode, query, key);
            ASSERT_EQ(seen, rows.visible(query, key)) << "query " << query << " key " << key;
            any |= seen;
            all &= seen;
          }
        if (any) expected.push_back(tile);
        // A tile the kernel treats as unmasked must be visible everywhere.
        if (rows.template fully_visible<kTileKeys>(tile))
          ASSERT_TRUE(all) << "tile " << tile << " of q block " << q_block << " claimed unmasked";
        // And the common case, the tiles below the diagonal of a dense head, is unmasked.
        if (mode == PrefillHeadMode::dense_causal && all)
          EXPECT_TRUE(rows.template fully_visible<kTileKeys>(tile)) << "tile " << tile;
      }
      for (int i = 0; i < active.count; ++i) visited.push_back(active.tile(i));
      ASSERT_EQ(visited, expected) << "mode " << int(mode) << " q block " << q_block << " of T "
                                   << seq_len << " sink " << sink << " local " << local;
    }
}

TEST(ActiveTiles, DenseAndStreamingVisitExactlyTheTilesWithVisiblePairs) {
  for (int seq_len : {1, 63, 64, 65, 300, 1000})
    for (auto [sink, local] : {std::pair{37, 203}, {0, 129}, {1, 64}, {128, 4096}, {70, 1}, {4, 0}}) {
      SCOPED_TRACE("T " + std::to_string(seq_len) + " sink " + std::to_string(sink) + " local " +
                   std::to_string(local));
      check_implicit_modes<64>(seq_len, 64, sink, local);    // both kernels, block 64
      check_implicit_modes<64>(seq_len, 128, sink, local);   // sm_80, block 128: two tiles a block
      check_implicit_modes<128>(seq_len, 128, sink, local);  // sm_90a, block 128: one tile a block
    }
}

template <int kTileKeys>
void check_block_list(int seq_len, int block_size, uint64_t seed) {
  const int num_q_blocks = (seq_len + block_size - 1) / block_size;
  std::mt19937_64 rng(seed);
  std::vector<int32_t> indptr{0}, indices;
  for (int q_block = 0; q_block < num_q_blocks; ++q_block) {
    for (int kv_block = 0; kv_block <= q_block; ++kv_block)
      if (rng() % 3 == 0) indices.push_back(kv_block);
    indptr.push_back(int32_t(indices.size()));
  }
  PrefillParams params{};
  params.seq_len = seq_len;
  params.block_size = block_size;
  params.num_q_blocks = num_q_blocks;
  params.maybe_block_indptr = indptr.data();
  params.maybe_block_indices = indices.data();
  for (int q_block = 0; q_block < num_q_blocks; ++q_block) {
    const CtaRows cta = rows_of(q_block, block_size, seq_len);
    const TileVisibility rows{PrefillTileMode::block_list, seq_len, 0, 0, cta.query_begin,
                              cta.query_last};
    const ActiveKvTiles active = enumerate_active_tiles<kTileKeys>(params, 0, q_block, rows);
    std::vector<int> expected, visited;
    for (int i = indptr[q_block]; i < indptr[q_block + 1]; ++i)
      for (int t = 0; t < block_size / kTileKeys; ++t)
        expected.push_back(indices[i] * (block_size / kTileKeys) + t);
    for (int i = 0; i < active.count; ++i) visited.push_back(active.tile(i));
    ASSERT_EQ(visited, expected) << "q block " << q_block;
  }
}

TEST(ActiveTiles, BlockListsVisitTheTilesOfTheirBlocks) {
  for (int seq_len : {63, 1000, 4099}) {
    check_block_list<64>(seq_len, 64, 1);
    check_block_list<64>(seq_len, 128, 2);
    check_block_list<128>(seq_len, 128, 3);
  }
}

}  // namespace
}  // namespace unisparse::cuda
