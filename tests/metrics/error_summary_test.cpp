#include "framework/metrics/error_summary.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace unisparse {
namespace {

TEST(RelativeL2, OfAPerturbedOutput) {
  const std::vector<double> reference{3.0, 4.0, 0.0};
  const std::vector<float> out{3.3f, 4.4f, 0.0f};  // reference * 1.1
  EXPECT_NEAR(relative_l2(out, reference), 0.1, 1e-6);
  const std::vector<float> shifted{3.0f, 4.0f, 0.5f};  // ||diff|| = 0.5, ||ref|| = 5
  EXPECT_NEAR(relative_l2(shifted, reference), 0.1, 1e-12);
  const std::vector<float> reference_float{3.0f, 4.0f, 0.0f};
  EXPECT_NEAR(relative_l2(shifted, reference_float), 0.1, 1e-12);
}

TEST(RelativeL2, PoisonedOrDegenerateRows) {
  const std::vector<double> reference{1.0, 2.0};
  const std::vector<float> poisoned{std::numeric_limits<float>::quiet_NaN(), 2.0f};
  EXPECT_EQ(relative_l2(poisoned, reference), std::numeric_limits<double>::infinity());
  const std::vector<double> zero{0.0, 0.0};
  const std::vector<float> zero_out{0.0f, 0.0f};
  const std::vector<float> nonzero_out{0.0f, 1e-3f};
  EXPECT_EQ(relative_l2(zero_out, zero), 0.0);
  EXPECT_EQ(relative_l2(nonzero_out, zero), std::numeric_limits<double>::infinity());
}

TEST(Percentile, NearestRank) {
  std::vector<double> hundred(100);
  std::iota(hundred.begin(), hundred.end(), 1.0);
  EXPECT_EQ(percentile_nearest_rank(hundred, 99), 99.0);  // rank ceil(99) = 99
  EXPECT_EQ(percentile_nearest_rank(hundred, 50), 50.0);
  EXPECT_EQ(percentile_nearest_rank(hundred, 100), 100.0);
  std::vector<double> reversed_two_hundred(200);
  std::iota(reversed_two_hundred.rbegin(), reversed_two_hundred.rend(), 1.0);
  EXPECT_EQ(percentile_nearest_rank(reversed_two_hundred, 99), 198.0);
  // Seven values: rank ceil(6.93) = 7, the maximum.
  EXPECT_EQ(percentile_nearest_rank({5, 1, 7, 3, 2, 6, 4}, 99), 7.0);
  // 101 values: rank ceil(99.99) = 100, one below the maximum.
  std::vector<double> hundred_one(101);
  std::iota(hundred_one.begin(), hundred_one.end(), 0.0);
  EXPECT_EQ(percentile_nearest_rank(hundred_one, 99), 99.0);
  EXPECT_EQ(percentile_nearest_rank({42.0}, 99), 42.0);
  EXPECT_TRUE(std::isnan(percentile_nearest_rank({}, 99)));
}

TEST(ErrorSummary, MeanP99MaxAndEmpty) {
  const ErrorSummary summary = summarize_errors({0.1, 0.3, 0.2});
  EXPECT_NEAR(summary.mean, 0.2, 1e-15);
  EXPECT_EQ(summary.p99, 0.3);
  EXPECT_EQ(summary.max, 0.3);
  const ErrorSummary empty = summarize_errors({});
  EXPECT_TRUE(std::isnan(empty.mean));
  EXPECT_TRUE(std::isnan(empty.p99));
  EXPECT_TRUE(std::isnan(empty.max));
}

}  // namespace
}  // namespace unisparse
