#include "framework/sparse/oracle_pages.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

namespace unisparse {
namespace {

using Pages = std::vector<int32_t>;

TEST(OraclePages, PageMassesSumTheTokensOfEachPage) {
  const std::vector<double> weights{0.1, 0.2, 0.3, 0.05, 0.15, 0.2};
  const std::vector<double> masses = page_masses(weights, 4);
  ASSERT_EQ(masses.size(), 2u);  // the last page holds 2 tokens
  EXPECT_NEAR(masses[0], 0.65, 1e-15);
  EXPECT_NEAR(masses[1], 0.35, 1e-15);
  EXPECT_EQ(page_masses({}, 4).size(), 0u);
  EXPECT_THROW(page_masses(weights, 0), std::invalid_argument);
}

TEST(OraclePages, TheLastPageIsForcedAndTheRestGoByMass) {
  // Pages of 2 tokens: masses 0.3, 0.05, 0.4, 0.05, 0.2 (the last page, light, still attended).
  const std::vector<double> weights{0.1, 0.2, 0.0, 0.05, 0.3, 0.1, 0.05, 0.0, 0.2};
  EXPECT_EQ(oracle_pages(weights, 2, 3), (Pages{0, 2, 4}));
  EXPECT_EQ(oracle_pages(weights, 2, 1), (Pages{4}));
  EXPECT_EQ(oracle_pages(weights, 2, 5), (Pages{0, 1, 2, 3, 4}));   // the context fits the budget
  EXPECT_EQ(oracle_pages(weights, 2, 50), (Pages{0, 1, 2, 3, 4}));
}

TEST(OraclePages, TiesGoToTheLowerPage) {
  const std::vector<double> uniform(12, 1.0 / 12);  // three pages of 4 tokens, all 1/3
  EXPECT_EQ(oracle_pages(uniform, 4, 2), (Pages{0, 2}));
  const std::vector<double> five_pages(10, 0.1);  // pages of 2 tokens, all 0.2
  EXPECT_EQ(oracle_pages(five_pages, 2, 3), (Pages{0, 1, 4}));
}

}  // namespace
}  // namespace unisparse
