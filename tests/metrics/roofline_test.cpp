#include "framework/metrics/roofline.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "tests/common/random_workload.h"

namespace unisparse {
namespace {

Csr csr_of(const std::vector<std::vector<int32_t>>& rows) {
  Csr csr;
  for (const auto& row : rows) csr.append_row(row);
  return csr;
}

// 4 query heads on 2 KV heads (group 2), head_dim 8, context 10, 2 steps. KV head 0 is dense with
// page selection (page 4, logical page 2, reuse 2); KV head 1 streams sink 1 + local 2.
class DecodeRoofline : public ::testing::Test {
 protected:
  void SetUp() override {
    workload = testing::random_workload({4, 2, 8}, 10, 2, 1, 31);
    workload.dtype = DType::fp16;
    workload.heads.kv_head_kind = {HeadKind::dense, HeadKind::streaming};
    workload.heads.sink_tokens = 1;
    workload.heads.local_tokens = 2;
    plan.mode = SparsityMode::static_dynamic;
    plan.heads = workload.heads;
    plan.geometry = {4, 2};
    plan.policy.token_budget = 8;
    plan.policy.reuse_interval = 2;
    run.selections = {csr_of({{0, 2}, {1, 2}, {0, 2}, {0, 2}}), csr_of({{2}, {2}, {0, 2}, {2}})};
  }
  Workload workload;
  DecodePlan plan;
  DecodeRun run;
};

TEST_F(DecodeRoofline, HandComputedFp16) {
  // Step 0 (11 tokens): dense group union pages {0,1,2} = 11 tokens (352 B), per head 7 + 7 tokens
  // (448 FLOP); streaming 3 tokens (96 B, 2 x 96 FLOP); statistics 6 logical pages x 32 B / 2 = 96
  // B, selector 2 heads x 6 x 16 / 2 = 96 FLOP. Step 1 (12 tokens): union page {2} = 4 tokens (128
  // B), 4 + 4 tokens (256 FLOP); streaming and statistics as before. Per step: (544 + 320) / 2 =
  // 432 B + Q and O 2 x 4 x 8 x 2 B = 560 B; (736 + 544) / 2 = 640 FLOP.
  const RooflineModel model = decode_roofline(workload, plan, run, DType::fp16);
  EXPECT_DOUBLE_EQ(model.bytes, 560.0);
  EXPECT_DOUBLE_EQ(model.flops, 640.0);
}

TEST_F(DecodeRoofline, Int4KvIsHalfAByteAnElementPlusEachRowsScaleAndZero) {
  // KV token = K and V rows of 8 x 0.5 B + an fp32 (scale, zero) each = 24 B: step 0 = 264 + 72 +
  // 96, step 1 = 96 + 72 + 96, mean 348, + 128 B of Q and O.
  const RooflineModel model = decode_roofline(workload, plan, run, DType::int4);
  EXPECT_DOUBLE_EQ(model.bytes, 476.0);
  EXPECT_DOUBLE_EQ(model.flops, 640.0);
}

TEST_F(DecodeRoofline, BatchSumsSequences) {
  workload = testing::random_workload({4, 2, 8}, 10, 2, 2, 32);
  workload.dtype = DType::fp16;
  workload.heads = plan.heads;
  for (Csr& selection : run.selections) {
    Csr doubled = selection;
    for (int row = 0; row < selection.rows(); ++row) doubled.append_row(selection.row(row));
    selection = doubled;
  }
  const RooflineModel model = decode_roofline(workload, plan, run, DType::fp16);
  EXPECT_DOUBLE_EQ(model.bytes, 1120.0);
  EXPECT_DOUBLE_EQ(model.flops, 1280.0);
}

TEST_F(DecodeRoofline, SelectionsMustCoverEveryStepAndRow) {
  run.selections.pop_back();
  EXPECT_THROW(decode_roofline(workload, plan, run, DType::fp16), std::invalid_argument);
  run.selections = {csr_of({{0}}), csr_of({{0}})};
  EXPECT_THROW(decode_roofline(workload, plan, run, DType::fp16), std::invalid_argument);
}

PrefillPlan prefill_plan(std::vector<PrefillHeadMode> modes, int block_size, int sink, int local) {
  PrefillPlan plan;
  plan.head_mode = std::move(modes);
  plan.block_size = block_size;
  plan.sink_tokens = sink;
  plan.local_tokens = local;
  return plan;
}

TEST(PrefillRoofline, HandComputedDenseAndStreaming) {
  Workload w = testing::random_workload({2, 1, 8}, 10, 0, 2, 33);
  // Dense: 55 pairs. Streaming sink 1, local 2: 1 + 2 + 3 + 7 x 3 = 27 pairs.
  const PrefillPlan plan =
      prefill_plan({PrefillHeadMode::dense_causal, PrefillHeadMode::streaming}, 4, 1, 2);
  const RooflineModel model = prefill_roofline(w, plan, DType::fp16);
  EXPECT_DOUBLE_EQ(model.flops, 4.0 * 8 * 82 * 2);
  EXPECT_DOUBLE_EQ(model.bytes, 2 * (2.0 * 8 * 10 * 3) * 2);  // (Q + O) x 2 heads + (K + V) x 1
}

TEST(PrefillRoofline, HandComputedBlockList) {
  Workload w = testing::random_workload({2, 1, 8}, 10, 0, 2, 34);
  PrefillPlan plan =
      prefill_plan({PrefillHeadMode::block_list, PrefillHeadMode::block_list}, 4, 1, 2);
  // Head 0: 10 | 16 + 10 | 3 = 39 pairs. Head 1: 0 | 10 | 8 + 8 + 3 = 29 pairs.
  plan.blocks = csr_of({{0}, {0, 1}, {2}, {}, {1}, {0, 1, 2}});
  const RooflineModel model = prefill_roofline(w, plan, DType::fp16);
  EXPECT_DOUBLE_EQ(model.flops, 4.0 * 8 * 68 * 2);
  EXPECT_DOUBLE_EQ(model.bytes, 1920.0 + 4.0 * (7 + 8));
}

TEST(PrefillRoofline, PairsMatchThePlanTokenByToken) {
  const int context_len = 257, block_size = 16;
  const int num_q_blocks = (context_len + block_size - 1) / block_size;
  Workload w = testing::random_workload({3, 1, 4}, context_len, 0, 1, 35);
  PrefillPlan plan = prefill_plan(
      {PrefillHeadMode::dense_causal, PrefillHeadMode::streaming, PrefillHeadMode::block_list},
      block_size, 5, 17);
  std::mt19937_64 generator(36);
  std::bernoulli_distribution keep(0.4);
  for (int q_head = 0; q_head < 3; ++q_head)
    for (int q_block = 0; q_block < num_q_blocks; ++q_block) {
      std::vector<int32_t> row;
      for (int kv_block = 0; kv_block < num_q_blocks; ++kv_block)
        if (q_head == 2 && keep(generator)) row.push_back(kv_block);
      plan.blocks.append_row(row);
    }
  int64_t pairs = 0;
  for (int q_head = 0; q_head < 3; ++q_head)
    for (int query = 0; query < context_len; ++query)
      for (int key = 0; key < context_len; ++key) {
        if (!plan.visible(plan.head_mode[q_head], query, key)) continue;
        if (plan.head_mode[q_head] == PrefillHeadMode::block_list) {
          const auto blocks = plan.blocks.row(q_head * num_q_blocks + query / block_size);
          if (std::find(blocks.begin(), blocks.end(), key / block_size) == blocks.end()) continue;
        }
        ++pairs;
      }
  EXPECT_DOUBLE_EQ(prefill_roofline(w, plan, DType::bf16).flops, 4.0 * 4 * pairs);
}

TEST(AchievedRates, AgainstCeilings) {
  const RooflineModel model{41e6, 7.9e9};  // in 10 us: 4100 GB/s and 790 TFLOP/s
  const AchievedRates rates = achieved_rates(model, 10.0, {4100, 790});
  EXPECT_DOUBLE_EQ(rates.gbps, 4100.0);
  EXPECT_DOUBLE_EQ(rates.tflops, 790.0);
  EXPECT_DOUBLE_EQ(rates.bandwidth_utilisation, 1.0);
  EXPECT_DOUBLE_EQ(rates.compute_utilisation, 1.0);
  const AchievedRates unknown_ceilings = achieved_rates(model, 20.0, {});
  EXPECT_DOUBLE_EQ(unknown_ceilings.gbps, 2050.0);
  EXPECT_TRUE(std::isnan(unknown_ceilings.bandwidth_utilisation));
  EXPECT_TRUE(std::isnan(unknown_ceilings.compute_utilisation));
  EXPECT_TRUE(std::isnan(achieved_rates(model, kNotMeasured, {4100, 790}).gbps));
  EXPECT_TRUE(std::isnan(achieved_rates(model, 0.0, {4100, 790}).tflops));
}

}  // namespace
}  // namespace unisparse
