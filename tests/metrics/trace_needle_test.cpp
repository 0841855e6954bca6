// needle_hit on captured prompts: the needle-seeking rows come from the dense reference (at least
// needle_mass_threshold of a row's mass on the needle tokens), the hit from the plan's tokens.
#include <gtest/gtest.h>

#include <cmath>

#include "framework/metrics/accuracy.h"
#include "framework/reference/dense_attention.h"
#include "tests/common/random_workload.h"

namespace unisparse {
namespace {

Csr csr_of(const std::vector<std::vector<int32_t>>& rows) {
  Csr csr;
  for (const auto& row : rows) csr.append_row(row);
  return csr;
}

// 2 query heads on one KV head, 40 tokens + 1 decode step. Query head 0 looks hard at tokens 20 and
// 21 (the needle), head 1 at token 3 only.
class TraceNeedle : public ::testing::Test {
 protected:
  void SetUp() override {
    workload = testing::random_workload({2, 1, 8}, 40, 1, 1, 4, 0.0);  // zero queries: uniform
    Sequence& sequence = workload.batch[0];
    for (int i = 0; i < 8; ++i) {
      sequence.q_decode.at({0, 0, i}) = i == 0 ? 6.0f : 0.0f;
      sequence.q_decode.at({0, 1, i}) = i == 1 ? 6.0f : 0.0f;
      for (int t : {20, 21}) sequence.k.at({0, t, i}) = i == 0 ? 6.0f : 0.0f;
      sequence.k.at({0, 3, i}) = i == 1 ? 6.0f : 0.0f;
    }
    sequence.needle_tokens = {20, 21};
    plan.mode = SparsityMode::dynamic_only;
    plan.heads = workload.heads;
    plan.geometry = {8, 8};
    for (int h = 0; h < 2; ++h) {
      std::vector<double> probabilities, out;
      reference_decode_row(workload, 0, 0, h, probabilities, out);
      needle_share[h] = probabilities[20] + probabilities[21];
    }
    run.out.push_back(Tensor({1, 2, 8}));
  }
  Workload workload;
  DecodePlan plan;
  DecodeRun run;
  double needle_share[2] = {};
};

TEST_F(TraceNeedle, RowsSeekTheNeedleWhenTheReferenceLooksAtIt) {
  ASSERT_GT(needle_share[0], 0.5);
  ASSERT_LT(needle_share[1], 0.05);
  // Head 0 attends page 2 (tokens 16..23, the needle), head 1 does not: only head 0 seeks it.
  run.selections = {csr_of({{2, 5}, {0, 5}})};
  EXPECT_NEAR(evaluate_decode(workload, plan, run, 1, nullptr, 0.1).needle_hit, 1.0, 1e-12);
  run.selections = {csr_of({{0, 5}, {2, 5}})};
  EXPECT_NEAR(evaluate_decode(workload, plan, run, 1, nullptr, 0.1).needle_hit, 0.0, 1e-12);
  // A threshold below head 1's needle share makes both rows needle-seeking.
  EXPECT_NEAR(evaluate_decode(workload, plan, run, 1, nullptr, needle_share[1] / 2).needle_hit, 0.5,
              1e-12);
  // Above every share: no row seeks the needle, the metric does not apply.
  const double above = needle_share[0] + (1.0 - needle_share[0]) / 2;
  EXPECT_TRUE(std::isnan(evaluate_decode(workload, plan, run, 1, nullptr, above).needle_hit));
}

TEST_F(TraceNeedle, EveryNeedleTokenMustBeAttended) {
  plan.geometry = {16, 16};  // the needle (tokens 20, 21) lies in page 1
  run.selections = {csr_of({{1, 2}, {0, 2}})};
  EXPECT_NEAR(evaluate_decode(workload, plan, run, 1, nullptr, 0.1).needle_hit, 1.0, 1e-12);
  // Token 20 still draws about half of head 0's mass; token 35 lies in page 2, left out.
  workload.batch[0].needle_tokens = {20, 35};
  run.selections = {csr_of({{0, 1}, {0, 2}})};
  EXPECT_NEAR(evaluate_decode(workload, plan, run, 1, nullptr, 0.1).needle_hit, 0.0, 1e-12);
}

}  // namespace
}  // namespace unisparse
