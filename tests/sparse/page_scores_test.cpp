#include "framework/sparse/page_scores.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/sparse/naive_attention.h"

namespace unisparse {
namespace {

TEST(PageScores, LogicalScoreAccumulatesChannelsInOrder) {
  const std::vector<float> q{1.0f, -2.0f, 0.5f};
  const std::vector<float> kmax{3.0f, 1.0f, -1.0f};
  const std::vector<float> kmin{-1.0f, -4.0f, -2.0f};
  // max(3, -1) + max(-2, 8) + max(-0.5, -1)
  EXPECT_EQ(logical_page_score(q, kmax, kmin), 3.0f + 8.0f - 0.5f);
}

// Quest's bound: no key of a page can score above its page's score.
TEST(PageScores, PhysicalScoreBoundsEveryTokenDotProductInThePage) {
  for (uint64_t seed = 0; seed < 40; ++seed) {
    const ModelShape shape{3, 1, 7 + static_cast<int>(seed % 5)};
    const int num_tokens = 37 + static_cast<int>(seed * 7 % 50);
    const Workload w = testing::random_workload(shape, num_tokens, 1, 1, seed);
    const PageGeometry geometry{seed % 2 ? 12 : 8, seed % 2 ? 3 : 4};
    const KeyStatsSet stats(w, geometry.logical_page_size);
    for (int h = 0; h < shape.num_q_heads; ++h) {
      const std::span<const float> q{w.batch[0].q.row({h, 0}), size_t(shape.head_dim)};
      const std::vector<float> scores = physical_page_scores(q, stats.at(0, 0), geometry);
      ASSERT_EQ(scores.size(), size_t(ceil_div(num_tokens, geometry.physical_page_size)));
      for (int t = 0; t < num_tokens; ++t) {
        // Channel-order fp32 sums can round differently, so allow the last bits.
        double dot = 0.0;
        for (int i = 0; i < shape.head_dim; ++i) dot += double{q[i]} * w.key(0, 0, t)[i];
        const float page_score = scores[t / geometry.physical_page_size];
        EXPECT_GE(page_score, dot - 1e-5 * (1.0 + std::abs(dot)))
            << "seed " << seed << " head " << h << " token " << t;
      }
    }
  }
}

TEST(PageScores, PhysicalScoreIsTheMaxOfItsLogicalScores) {
  const ModelShape shape{1, 1, 16};
  const int num_tokens = 83;  // 6 physical pages of 16, the last holding 3 tokens in 1 logical page
  const Workload w = testing::random_workload(shape, num_tokens, 1, 1, 3);
  const PageGeometry geometry{16, 4};
  const KeyStatsSet stats(w, 4);
  const KeyStats& s = stats.at(0, 0);
  const std::span<const float> q{w.batch[0].q.row({0, 5}), 16};
  const std::vector<float> scores = physical_page_scores(q, s, geometry);
  ASSERT_EQ(scores.size(), 6u);
  for (int page = 0; page < 6; ++page) {
    float expected = -INFINITY;
    for (int logical = page * 4; logical < std::min(s.num_logical_pages(), page * 4 + 4); ++logical)
      expected = std::max(expected, logical_page_score(q, s.kmax(logical), s.kmin(logical)));
    EXPECT_EQ(scores[page], expected) << "page " << page;
  }
}

TEST(PageScores, LogicalEqualToPhysicalIsPlainQuest) {
  const ModelShape shape{1, 1, 9};
  const int num_tokens = 50;
  const int page_size = 8;
  const Workload w = testing::random_workload(shape, num_tokens, 1, 1, 21);
  const KeyStatsSet stats(w, page_size);
  const std::span<const float> q{w.batch[0].q.row({0, 0}), 9};
  const std::vector<float> scores = physical_page_scores(q, stats.at(0, 0), {page_size, page_size});
  for (int page = 0; page < int(scores.size()); ++page) {
    std::vector<float> kmax(9, -INFINITY), kmin(9, INFINITY);
    for (int t = page * page_size; t < std::min(num_tokens, (page + 1) * page_size); ++t)
      for (int i = 0; i < 9; ++i) {
        kmax[i] = std::max(kmax[i], w.key(0, 0, t)[i]);
        kmin[i] = std::min(kmin[i], w.key(0, 0, t)[i]);
      }
    float quest = 0.0f;
    for (int i = 0; i < 9; ++i) quest += std::max(q[i] * kmax[i], q[i] * kmin[i]);
    EXPECT_EQ(scores[page], quest) << "page " << page;
  }
}

TEST(PageScores, FinerLogicalPagesNeverScoreAboveCoarserOnes) {
  // A logical page's min/max range lies inside its physical page's, so the bound only tightens.
  const ModelShape shape{4, 1, 32};
  const Workload w = testing::random_workload(shape, 200, 1, 1, 8);
  const KeyStatsSet coarse(w, 32), fine(w, 8);
  for (int h = 0; h < 4; ++h) {
    const std::span<const float> q{w.batch[0].q.row({h, 0}), 32};
    const auto coarse_scores = physical_page_scores(q, coarse.at(0, 0), {32, 32});
    const auto fine_scores = physical_page_scores(q, fine.at(0, 0), {32, 8});
    for (size_t p = 0; p < coarse_scores.size(); ++p)
      EXPECT_LE(fine_scores[p], coarse_scores[p] + 1e-4f) << "head " << h << " page " << p;
  }
}

}  // namespace
}  // namespace unisparse
