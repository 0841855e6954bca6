// The oracle page selector and the page_recall oracle are one rule: the CPU backend's oracle
// decode recalls (nearly) every oracle page, Quest fewer.
#include <gtest/gtest.h>

#include "framework/metrics/accuracy.h"
#include "framework/sparse/cpu_decode.h"
#include "tests/common/random_workload.h"

namespace unisparse {
namespace {

double page_recall_of(const Workload& workload, PageSelectorKind selector, int reuse) {
  DecodePlan plan;
  plan.mode = SparsityMode::dynamic_only;
  plan.heads = workload.heads;
  plan.geometry = {16, 16};
  plan.policy = {64, reuse, GqaSelection::per_query_head};
  plan.selector = selector;
  const CpuDecodeResult result = cpu_decode(workload, plan);
  const DecodeRun run{result.out, result.selections, {}};
  return evaluate_decode(workload, plan, run, 1).page_recall;
}

TEST(OracleRecall, TheOracleSelectorRecallsItsOwnPages) {
  const Workload workload = testing::random_workload({4, 2, 32}, 300, 6, 1, 9, 3.0);
  // fp32 logits (the selector) against fp64 (the metric) may swap two nearly tied pages only.
  const double oracle = page_recall_of(workload, PageSelectorKind::oracle, 1);
  EXPECT_GT(oracle, 0.99);
  EXPECT_LE(oracle, 1.0);
  EXPECT_LT(page_recall_of(workload, PageSelectorKind::quest, 1), oracle);
  // Reused selections age: recall drops below the per-step oracle.
  EXPECT_LT(page_recall_of(workload, PageSelectorKind::oracle, 4), oracle);
}

}  // namespace
}  // namespace unisparse
