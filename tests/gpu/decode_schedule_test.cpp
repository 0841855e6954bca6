// The host-side scheduling of the cuda decode path, which needs no GPU (these tests run wherever the
// kernels build): the split planner's choice under its cost model, and which kernels a decode step
// launches, the key under which step graphs are kept and updated.
#include <gtest/gtest.h>

#include <stdexcept>

#include "kernels/common/launch_limits.h"
#include "kernels/decode/split_plan.h"
#include "kernels/decode/step_launches.h"

namespace unisparse::cuda {
namespace {

// llama3-8b on an H200: 8 KV heads, 132 SMs holding 4 decode blocks each.
constexpr int kResident = 4 * 132;

TEST(SplitPlan, DenseDecodeAtBatchOneFillsOneWave) {
  // 128k tokens of 64-token pages (plus the decode steps): 2049 pages for each of 8 work items.
  const SplitPlanInput input{8, 2049, 64, kResident};
  const int splits = plan_splits(input);
  EXPECT_LE(8 * splits, kResident) << "a second, almost empty wave would double the time";
  // No one-wave split count gives a block fewer chunks.
  const int fewest_chunks = (2049 + kResident / 8 - 1) / (kResident / 8);
  EXPECT_EQ((2049 + splits - 1) / splits, fewest_chunks) << splits << " splits";
}

TEST(SplitPlan, TakesTheFewestSplitsAmongEqualCosts) {
  const SplitPlanInput input{8, 2049, 64, kResident};
  const int splits = plan_splits(input);
  ASSERT_GT(splits, 1);
  EXPECT_GT(split_launch_cost(input, splits - 1), split_launch_cost(input, splits));
}

TEST(SplitPlan, NeverMoreSplitsThanChunksOrTheMergeHolds) {
  EXPECT_EQ(plan_splits({1, 3, 64, kResident}), 3);
  EXPECT_EQ(plan_splits({1, 1, 64, kResident}), 1);
  EXPECT_EQ(plan_splits({1, 100000, 16, 100000}), limits::kMaxSplits);
}

TEST(SplitPlan, ManyWorkItemsKeepOneSplitEach) {
  // Batch 512 of 8 heads: 4096 blocks are eight waves already; splitting only adds fixed costs.
  EXPECT_EQ(plan_splits({4096, 10, 64, kResident}), 1);
}

TEST(SplitPlan, AvoidsAnAlmostEmptyLastWave) {
  // 600 work items are one full wave and 72 blocks: two splits give three full-ish waves of
  // half-length blocks, faster than two waves of whole ones.
  const SplitPlanInput input{600, 2048, 64, kResident};
  EXPECT_LT(split_launch_cost(input, 2), split_launch_cost(input, 1));
  EXPECT_GT(plan_splits(input), 1);
}

TEST(SplitPlan, SparseDecodeSplitsTheSelectedPagesOverTheGpu) {
  // Static+dynamic at batch 1: 16 selection rows (4 dense KV heads x 4 query heads) of 64 pages.
  const int splits = plan_splits({16, 64, 64, kResident});
  EXPECT_LE(16 * splits, kResident);
  EXPECT_GE(16 * splits, kResident / 2);
}

TEST(SplitPlan, RejectsEmptyInputs) {
  EXPECT_THROW(plan_splits({0, 10, 64, kResident}), std::invalid_argument);
  EXPECT_THROW(plan_splits({8, 0, 64, kResident}), std::invalid_argument);
  EXPECT_THROW(plan_splits({8, 10, 0, kResident}), std::invalid_argument);
  EXPECT_THROW(plan_splits({8, 10, 64, 0}), std::invalid_argument);
}

StepShape selecting_shape() {
  StepShape shape;
  shape.dense_pool = true;
  shape.streaming_pool = true;
  shape.uses_selection = true;
  shape.context_len = 1000;
  shape.page_size = 64;
  shape.dense_splits = 8;
  shape.streaming_splits = 1;
  return shape;
}

TEST(StepLaunches, DenseDecodeIsTheSameLaunchesAtEveryStep) {
  StepShape shape;
  shape.dense_pool = true;
  shape.context_len = 4096;
  shape.page_size = 64;
  shape.dense_splits = 5;
  const StepLaunches first = step_launches(shape, 0, false);
  EXPECT_TRUE(first.append);
  EXPECT_TRUE(first.dense_attention);
  EXPECT_TRUE(first.dense_merge);
  EXPECT_FALSE(first.page_scores || first.topk || first.streaming_attention || first.streaming_merge);
  EXPECT_EQ(step_launches(shape, 63, false), first);
  // Without selection a forced selector step launches nothing more.
  EXPECT_EQ(step_launches(shape, 7, true), first);
}

TEST(StepLaunches, SelectorStepsAddScoresAndTopk) {
  const StepShape shape = selecting_shape();
  const StepLaunches selecting = step_launches(shape, 0, true);
  const StepLaunches reusing = step_launches(shape, 1, false);
  EXPECT_TRUE(selecting.page_scores && selecting.topk);
  EXPECT_FALSE(reusing.page_scores || reusing.topk);
  EXPECT_NE(selecting, reusing);
  // Steps of the same kind share a key (and so one graph, updated in place).
  EXPECT_EQ(step_launches(shape, 4, true), selecting);
  EXPECT_EQ(step_launches(shape, 2, false), reusing);
  EXPECT_TRUE(reusing.streaming_attention);
  EXPECT_FALSE(reusing.streaming_merge) << "one streaming split writes the output itself";
  EXPECT_TRUE(reusing.dense_merge);
}

TEST(StepLaunches, NoScoresWhileTheContextIsOnePage) {
  StepShape shape = selecting_shape();
  shape.context_len = 10;
  shape.page_size = 16;
  const StepLaunches one_page = step_launches(shape, 0, true);  // 11 tokens: only the last page
  EXPECT_FALSE(one_page.page_scores);
  EXPECT_TRUE(one_page.topk) << "top-k still records the (empty) cached selection";
  EXPECT_TRUE(step_launches(shape, 6, true).page_scores);  // 17 tokens: page 0 is scored
}

TEST(StepLaunches, StreamingOnlyAndOneSplit) {
  StepShape shape;
  shape.streaming_pool = true;
  shape.context_len = 300;
  shape.page_size = 16;
  shape.streaming_splits = 3;
  const StepLaunches launches = step_launches(shape, 0, true);
  EXPECT_TRUE(launches.append && launches.streaming_attention && launches.streaming_merge);
  EXPECT_FALSE(launches.dense_attention || launches.dense_merge || launches.topk || launches.page_scores);
}

TEST(StepLaunches, RejectsBadShapes) {
  StepShape shape = selecting_shape();
  EXPECT_THROW(step_launches(shape, -1, false), std::invalid_argument);
  shape.page_size = 0;
  EXPECT_THROW(step_launches(shape, 0, false), std::invalid_argument);
  shape = selecting_shape();
  shape.dense_splits = 0;
  EXPECT_THROW(step_launches(shape, 0, false), std::invalid_argument);
}

}  // namespace
}  // namespace unisparse::cuda
