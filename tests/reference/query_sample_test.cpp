#include "framework/reference/query_sample.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace unisparse {
namespace {

TEST(QuerySample, DistinctAscendingInRangeAndReproducible) {
  const std::vector<int32_t> rows = sample_query_rows(1001, 37, 7);
  ASSERT_EQ(rows.size(), 37u);
  EXPECT_TRUE(std::ranges::is_sorted(rows));
  EXPECT_EQ(std::set<int32_t>(rows.begin(), rows.end()).size(), rows.size());
  EXPECT_GE(rows.front(), 0);
  EXPECT_LT(rows.back(), 1001);
  EXPECT_EQ(sample_query_rows(1001, 37, 7), rows);
  EXPECT_NE(sample_query_rows(1001, 37, 8), rows);
}

TEST(QuerySample, NonPositiveOrLargeCountSelectsEveryRow) {
  const std::vector<int32_t> every{0, 1, 2, 3, 4, 5, 6};
  EXPECT_EQ(sample_query_rows(7, 0, 1), every);
  EXPECT_EQ(sample_query_rows(7, -3, 1), every);
  EXPECT_EQ(sample_query_rows(7, 7, 1), every);
  EXPECT_EQ(sample_query_rows(7, 100, 1), every);
}

}  // namespace
}  // namespace unisparse
