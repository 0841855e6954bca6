#include "framework/sparse/key_stats.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/sparse/naive_attention.h"

namespace unisparse {
namespace {

TEST(KeyStats, MaxAndMinPerChannelOfEveryLogicalPageIncludingPartialLast) {
  const ModelShape shape{2, 2, 5};
  const Workload w = testing::random_workload(shape, 23, 0, 2, 11);
  const int logical_page_size = 7;  // pages of 7, 7, 7, 2 tokens
  const KeyStatsSet stats(w, logical_page_size);
  for (int b = 0; b < 2; ++b)
    for (int kv = 0; kv < 2; ++kv) {
      const KeyStats& s = stats.at(b, kv);
      ASSERT_EQ(s.num_tokens(), 23);
      ASSERT_EQ(s.num_logical_pages(), 4);
      for (int page = 0; page < 4; ++page)
        for (int i = 0; i < shape.head_dim; ++i) {
          float expected_max = -INFINITY, expected_min = INFINITY;
          for (int t = page * logical_page_size; t < std::min(23, (page + 1) * logical_page_size); ++t) {
            expected_max = std::max(expected_max, w.key(b, kv, t)[i]);
            expected_min = std::min(expected_min, w.key(b, kv, t)[i]);
          }
          EXPECT_EQ(s.kmax(page)[i], expected_max) << "b " << b << " kv " << kv << " page " << page;
          EXPECT_EQ(s.kmin(page)[i], expected_min) << "b " << b << " kv " << kv << " page " << page;
        }
    }
}

TEST(KeyStats, IncrementalDecodeAppendEqualsRecomputation) {
  const ModelShape shape{4, 2, 8};
  const Workload w = testing::random_workload(shape, 29, 13, 3, 5);
  for (int logical_page_size : {1, 4, 16, 64}) {
    KeyStatsSet incremental(w, logical_page_size);
    for (int step = 0; step < w.decode_steps; ++step) {
      incremental.append_decode_token(w, step);
      const KeyStatsSet recomputed(w, logical_page_size, w.tokens_at_step(step));
      ASSERT_EQ(incremental.num_tokens(), recomputed.num_tokens());
      for (int b = 0; b < 3; ++b)
        for (int kv = 0; kv < 2; ++kv)
          ASSERT_EQ(incremental.at(b, kv), recomputed.at(b, kv))
              << "logical page " << logical_page_size << " step " << step;
    }
  }
}

TEST(KeyStats, AppendingOutOfOrderIsRejected) {
  const Workload w = testing::random_workload({2, 1, 4}, 10, 3, 1, 1);
  KeyStatsSet stats(w, 4);
  EXPECT_THROW(stats.append_decode_token(w, 1), std::logic_error);
  stats.append_decode_token(w, 0);
  EXPECT_THROW(stats.append_decode_token(w, 0), std::logic_error);
}

}  // namespace
}  // namespace unisparse
