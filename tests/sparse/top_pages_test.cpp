#include "framework/sparse/top_pages.h"

#include <gtest/gtest.h>

#include <random>

namespace unisparse {
namespace {

using Pages = std::vector<int32_t>;

TEST(TopPages, LastPageIsForcedInAndNotScored) {
  // The last page scores lowest (and would even win if it were scored at +100), yet is attended.
  EXPECT_EQ(top_pages(std::vector<float>{5, 1, 4, 3, -100}, 5, 3), (Pages{0, 2, 4}));
  EXPECT_EQ(top_pages(std::vector<float>{5, 1, 4, 3, 100}, 5, 3), (Pages{0, 2, 4}));
  // Only num_pages - 1 scores are needed.
  EXPECT_EQ(top_pages(std::vector<float>{5, 1, 4, 3}, 5, 3), (Pages{0, 2, 4}));
}

TEST(TopPages, BudgetOfOnePageIsTheLastPage) {
  EXPECT_EQ(top_pages(std::vector<float>{9, 8, 7}, 3, 1), (Pages{2}));
}

TEST(TopPages, TiesGoToTheLowerPageIndex) {
  EXPECT_EQ(top_pages(std::vector<float>{1, 2, 2, 2, 0, 0}, 6, 3), (Pages{1, 2, 5}));
  EXPECT_EQ(top_pages(std::vector<float>{0, 0, 0, 0, 0, 0, 0}, 7, 4), (Pages{0, 1, 2, 6}));
  EXPECT_EQ(top_pages(std::vector<float>{-1, 3, -1, 3, -1, 0}, 6, 4), (Pages{0, 1, 3, 5}));
}

TEST(TopPages, OutputIsAscending) {
  EXPECT_EQ(top_pages(std::vector<float>{1, 9, 2, 8, 3, 7, 0}, 7, 4), (Pages{1, 3, 5, 6}));
}

TEST(TopPages, AtMostKPagesAttendsEveryPage) {
  EXPECT_EQ(top_pages(std::vector<float>{3, 1, 2, 0}, 4, 4), (Pages{0, 1, 2, 3}));
  EXPECT_EQ(top_pages(std::vector<float>{3, 1, 2, 0}, 4, 100), (Pages{0, 1, 2, 3}));
  EXPECT_EQ(top_pages(std::vector<float>{}, 1, 2), (Pages{0}));
  EXPECT_EQ(top_pages(std::vector<float>{}, 0, 2), (Pages{}));
  // One page more than the budget: exactly one scored page is dropped, the lowest (page 3).
  EXPECT_EQ(top_pages(std::vector<float>{3, 1, 2, 0, 9}, 5, 4), (Pages{0, 1, 2, 4}));
}

TEST(TopPages, TopScoredPagesLeavesOutTheLastPage) {
  EXPECT_EQ(top_scored_pages(std::vector<float>{5, 1, 4, 3, 0}, 5, 3), (Pages{0, 2}));
  EXPECT_EQ(top_scored_pages(std::vector<float>{5, 1}, 3, 8), (Pages{0, 1}));
}

TEST(TopPages, MatchesAFullSortOnRandomScoresWithManyTies) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    const int num_pages = 1 + int(rng() % 40);
    const int k = 1 + int(rng() % 12);
    std::vector<float> scores(num_pages);
    for (float& s : scores) s = float(rng() % 5);  // few distinct values: many ties
    Pages order(num_pages - 1);
    for (int p = 0; p < num_pages - 1; ++p) order[p] = p;
    std::stable_sort(order.begin(), order.end(),
                     [&](int32_t a, int32_t b) { return scores[a] > scores[b]; });
    Pages expected;
    if (num_pages <= k) {
      for (int p = 0; p < num_pages; ++p) expected.push_back(p);
    } else {
      expected.assign(order.begin(), order.begin() + (k - 1));
      expected.push_back(num_pages - 1);
      std::sort(expected.begin(), expected.end());
    }
    ASSERT_EQ(top_pages(scores, num_pages, k), expected) << "trial " << trial;
  }
}

TEST(TopPages, RejectsAnEmptyBudgetAndTooFewScores) {
  EXPECT_THROW(top_pages(std::vector<float>{1, 2}, 3, 0), std::invalid_argument);
  EXPECT_THROW(top_pages(std::vector<float>{1}, 3, 1), std::invalid_argument);
}

}  // namespace
}  // namespace unisparse
