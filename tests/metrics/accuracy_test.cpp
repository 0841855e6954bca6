#include "framework/metrics/accuracy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "framework/reference/dense_attention.h"
#include "tests/common/random_workload.h"

namespace unisparse {
namespace {

Csr csr_of(const std::vector<std::vector<int32_t>>& rows) {
  Csr csr;
  for (const auto& row : rows) csr.append_row(row);
  return csr;
}

// Zero keys make every logit 0: the reference attends uniformly, so masses are token counts / n.
Workload uniform_workload(ModelShape shape, int context_len, int steps, int batch, uint64_t seed) {
  Workload w = testing::random_workload(shape, context_len, steps, batch, seed);
  for (Sequence& sequence : w.batch) {
    sequence.k = Tensor(sequence.k.shape(), 0.0f);
    sequence.k_decode = Tensor(sequence.k_decode.shape(), 0.0f);
  }
  return w;
}

// Outputs equal to the reference (rounded to float).
std::vector<Tensor> reference_decode_outputs(const Workload& w) {
  std::vector<Tensor> outputs;
  for (int b = 0; b < w.batch_size(); ++b) {
    const std::vector<double> reference = reference_decode(w, b);
    Tensor out({w.decode_steps, w.shape.num_q_heads, w.shape.head_dim});
    for (size_t i = 0; i < reference.size(); ++i)
      out.storage()[i] = static_cast<float>(reference[i]);
    outputs.push_back(std::move(out));
  }
  return outputs;
}

std::vector<Tensor> reference_prefill_outputs(const Workload& w) {
  std::vector<Tensor> outputs;
  for (int b = 0; b < w.batch_size(); ++b) {
    const std::vector<double> reference = reference_prefill(w, b, {});
    Tensor out({w.shape.num_q_heads, w.context_len, w.shape.head_dim});
    for (size_t i = 0; i < reference.size(); ++i)
      out.storage()[i] = static_cast<float>(reference[i]);
    outputs.push_back(std::move(out));
  }
  return outputs;
}

DecodePlan page_selection_plan(const Workload& w, SparsityMode mode, int physical_page_size) {
  DecodePlan plan;
  plan.mode = mode;
  plan.heads = w.heads;
  plan.geometry = {physical_page_size, physical_page_size};
  return plan;
}

void scale_row(Tensor& out, int step, int q_head, float factor) {
  float* row = out.row({step, q_head});
  for (int64_t i = 0; i < out.dim(2); ++i) row[i] *= factor;
}

// Context 10, page size 4, one KV head with two query heads, uniform attention. Step 0 sees 11
// tokens (pages 0, 1 of 4 tokens, page 2 of 3), step 1 sees 12 (three full pages, a three-way tie).
class DecodeAccuracy : public ::testing::Test {
 protected:
  void SetUp() override {
    workload = uniform_workload({2, 1, 8}, 10, 2, 1, 21);
    plan = page_selection_plan(workload, SparsityMode::dynamic_only, 4);
    run.out = reference_decode_outputs(workload);
    run.selections = {csr_of({{1, 2}, {0, 1, 2}}), csr_of({{0, 2}, {2}})};
  }
  Workload workload;
  DecodePlan plan;
  DecodeRun run;
};

TEST_F(DecodeAccuracy, AttentionRecallIsTheAttendedMass) {
  const Accuracy accuracy = evaluate_decode(workload, plan, run, 1);
  EXPECT_EQ(accuracy.rows, 4);
  EXPECT_NEAR(accuracy.attn_recall, (7.0 / 11 + 1.0 + 8.0 / 12 + 4.0 / 12) / 4, 1e-12);
}

TEST_F(DecodeAccuracy, PageRecallBreaksTiesTowardLowerPages) {
  // Oracles keep the last page, as every selection does: {0, 2} (pages 0 and 1 tie), {0, 1, 2}
  // (every page), {0, 2} (tie), {2}. Recalls: 1/2, 1, 1, 1.
  const Accuracy accuracy = evaluate_decode(workload, plan, run, 1);
  EXPECT_NEAR(accuracy.page_recall, 3.5 / 4, 1e-12);
}

TEST_F(DecodeAccuracy, PageRecallFollowsTheTrueMass) {
  // Key 5 (page 1) aligned with step 0's query of head 0: page 1 becomes the heaviest page, so the
  // oracle of two pages is {1, 2} (the last page forced in), not the lower {0, 2} of a tie.
  Sequence& sequence = workload.batch[0];
  for (int i = 0; i < 8; ++i) {
    sequence.q_decode.at({0, 0, i}) = i == 0 ? 10.0f : 0.0f;
    sequence.k.at({0, 5, i}) = i == 0 ? 10.0f : 0.0f;
  }
  run.out = reference_decode_outputs(workload);
  run.selections = {csr_of({{1, 2}, {0, 1, 2}}), csr_of({{0, 1, 2}, {0, 1, 2}})};
  EXPECT_NEAR(evaluate_decode(workload, plan, run, 1).page_recall, 1.0, 1e-12);
  run.selections[0] = csr_of({{0, 2}, {0, 1, 2}});
  EXPECT_NEAR(evaluate_decode(workload, plan, run, 1).page_recall, 3.5 / 4, 1e-12);
}

TEST_F(DecodeAccuracy, NeedleHitCountsRowsWithTargetsOnly) {
  // Step 0: head 0 seeks tokens 5, 6 (page 1, attended), head 1 seeks nothing. Step 1: head 0 seeks
  // token 5 (page 1, not attended), head 1 tokens 8, 9 (page 2, attended).
  workload.batch[0].needle_targets = {{{5, 6}, {}}, {{5}, {8, 9}}};
  EXPECT_NEAR(evaluate_decode(workload, plan, run, 1).needle_hit, 2.0 / 3.0, 1e-12);
  workload.batch[0].needle_targets.clear();
  EXPECT_TRUE(std::isnan(evaluate_decode(workload, plan, run, 1).needle_hit));
}

TEST_F(DecodeAccuracy, OutputErrorOfAPerturbedRow) {
  scale_row(run.out[0], 1, 1, 1.5f);  // relative error 0.5 on one row of four
  const Accuracy accuracy = evaluate_decode(workload, plan, run, 1);
  EXPECT_NEAR(accuracy.out_rel_l2_max, 0.5, 1e-6);
  EXPECT_NEAR(accuracy.out_rel_l2_p99, 0.5, 1e-6);  // rank ceil(3.96) = 4 of 4
  EXPECT_NEAR(accuracy.out_rel_l2_mean, 0.125, 1e-6);
}

TEST_F(DecodeAccuracy, PoisonedOutputIsAnInfiniteErrorNotAnEmptyCell) {
  run.out[0].at({0, 1, 3}) = std::numeric_limits<float>::quiet_NaN();
  const Accuracy accuracy = evaluate_decode(workload, plan, run, 1);
  EXPECT_EQ(accuracy.out_rel_l2_max, std::numeric_limits<double>::infinity());
}

TEST_F(DecodeAccuracy, WithoutPageSelectionPageRecallDoesNotApply) {
  plan.mode = SparsityMode::dense;
  run.selections = {csr_of({{0, 1, 2}, {0, 1, 2}}), csr_of({{0, 1, 2}, {0, 1, 2}})};
  const Accuracy accuracy = evaluate_decode(workload, plan, run, 1);
  EXPECT_NEAR(accuracy.attn_recall, 1.0, 1e-12);
  EXPECT_TRUE(std::isnan(accuracy.page_recall));
  EXPECT_TRUE(std::isnan(accuracy.needle_hit));
  EXPECT_LT(accuracy.out_rel_l2_max, 1e-6);
}

TEST_F(DecodeAccuracy, RunWithoutSelectionsHasOnlyOutputErrors) {
  run.selections.clear();
  const Accuracy accuracy = evaluate_decode(workload, plan, run, 1);
  EXPECT_EQ(accuracy.rows, 4);
  EXPECT_LT(accuracy.out_rel_l2_max, 1e-6);
  EXPECT_TRUE(std::isnan(accuracy.attn_recall));
  EXPECT_TRUE(std::isnan(accuracy.page_recall));
}

TEST_F(DecodeAccuracy, MismatchedOutputsAreRejected) {
  run.out[0] = Tensor({2, 2, 7});
  EXPECT_THROW(evaluate_decode(workload, plan, run, 1), std::invalid_argument);
}

TEST(DecodeAccuracyStreaming, StreamingRowsAttendSinkAndLocalAndHaveNoPageRecall) {
  // KV head 0 dense (query heads 0, 1), KV head 1 streaming (query heads 2, 3): sink 2, local 3.
  Workload w = uniform_workload({4, 2, 8}, 13, 1, 1, 22);
  w.heads.kv_head_kind = {HeadKind::dense, HeadKind::streaming};
  w.heads.sink_tokens = 2;
  w.heads.local_tokens = 3;
  DecodePlan plan = page_selection_plan(w, SparsityMode::static_dynamic, 4);
  DecodeRun run;
  run.out = reference_decode_outputs(w);
  // 14 tokens, pages 0..3 (page 3 holds 2 tokens). Streaming rows list the pages they touch.
  run.selections = {csr_of({{0, 3}, {1, 2, 3}, {0, 2, 3}, {0, 2, 3}})};
  const Accuracy accuracy = evaluate_decode(w, plan, run, 1);
  EXPECT_NEAR(accuracy.attn_recall, (6.0 / 14 + 10.0 / 14 + 5.0 / 14 + 5.0 / 14) / 4, 1e-12);
  // Dense rows only: k = 2, oracle {0, 3}: 1; k = 3, oracle {0, 1, 3}: 2/3.
  EXPECT_NEAR(accuracy.page_recall, (1.0 + 2.0 / 3.0) / 2, 1e-12);

  w.heads.kv_head_kind = {HeadKind::streaming, HeadKind::streaming};
  plan.heads = w.heads;
  EXPECT_TRUE(std::isnan(evaluate_decode(w, plan, run, 1).page_recall));
}

TEST(DecodeAccuracyBatches, OnlyTheReferenceBatchesAreEvaluated) {
  Workload w = testing::random_workload({6, 2, 24}, 37, 3, 3, 23);
  DecodePlan plan = page_selection_plan(w, SparsityMode::dense, 16);
  DecodeRun run;
  run.out = reference_decode_outputs(w);
  for (float& value : run.out[2].storage()) value = std::numeric_limits<float>::quiet_NaN();
  const Accuracy two = evaluate_decode(w, plan, run, 2);
  EXPECT_EQ(two.rows, 2 * 3 * 6);
  EXPECT_LT(two.out_rel_l2_max, 1e-6);
  const Accuracy all = evaluate_decode(w, plan, run, 100);
  EXPECT_EQ(all.rows, 3 * 3 * 6);
  EXPECT_EQ(all.out_rel_l2_max, std::numeric_limits<double>::infinity());
}

// Context 10, two query heads on one KV head, uniform attention: query i sees i + 1 keys.
class PrefillAccuracy : public ::testing::Test {
 protected:
  void SetUp() override {
    workload = uniform_workload({2, 1, 8}, 10, 1, 1, 24);
    plan.block_size = 4;
    plan.sink_tokens = 1;
    plan.local_tokens = 2;
    run.out = reference_prefill_outputs(workload);
  }
  Workload workload;
  PrefillPlan plan;
  PrefillRun run;
};

TEST_F(PrefillAccuracy, StreamingHeadRecall) {
  plan.head_mode = {PrefillHeadMode::dense_causal, PrefillHeadMode::streaming};
  // Streaming query i >= 3 sees key 0 and keys i - 1, i: 3 of i + 1 keys.
  double streaming_mass = 3.0;  // queries 0, 1, 2 see everything
  for (int query = 3; query < 10; ++query) streaming_mass += 3.0 / (query + 1);
  const Accuracy accuracy = evaluate_prefill(workload, plan, run, 0, 1);
  EXPECT_EQ(accuracy.rows, 20);
  EXPECT_NEAR(accuracy.attn_recall, (10.0 + streaming_mass) / 20, 1e-12);
  EXPECT_TRUE(std::isnan(accuracy.page_recall));
  EXPECT_TRUE(std::isnan(accuracy.needle_hit));
  EXPECT_LT(accuracy.out_rel_l2_max, 1e-6);
}

TEST_F(PrefillAccuracy, BlockListRecall) {
  plan.head_mode = {PrefillHeadMode::block_list, PrefillHeadMode::block_list};
  // Query blocks 0..2 of head 0 read {0}, {1}, {0, 2}; head 1 reads every causal block.
  plan.blocks = csr_of({{0}, {1}, {0, 2}, {0}, {0, 1}, {0, 1, 2}});
  // Queries 0..3 see all their keys; 4..7 keys 4..i; 8, 9 keys 0..3 and 8..i: i - 3 of i + 1.
  double head0_mass = 4.0;
  for (int query = 4; query < 10; ++query) head0_mass += (query - 3.0) / (query + 1);
  const Accuracy accuracy = evaluate_prefill(workload, plan, run, 0, 1);
  EXPECT_NEAR(accuracy.attn_recall, (head0_mass + 10.0) / 20, 1e-12);
}

TEST_F(PrefillAccuracy, SampledRowsAreReproducible) {
  plan.head_mode = {PrefillHeadMode::dense_causal, PrefillHeadMode::streaming};
  run.out[0].at({1, 7, 0}) += 1.0f;
  const Accuracy first = evaluate_prefill(workload, plan, run, 3, 99);
  const Accuracy second = evaluate_prefill(workload, plan, run, 3, 99);
  EXPECT_EQ(first.rows, 6);
  EXPECT_EQ(first.attn_recall, second.attn_recall);
  EXPECT_EQ(first.out_rel_l2_max, second.out_rel_l2_max);
}

TEST_F(PrefillAccuracy, MismatchedInputsAreRejected) {
  EXPECT_THROW(evaluate_prefill(workload, plan, run, 0, 1), std::invalid_argument);  // no modes
  plan.head_mode = {PrefillHeadMode::dense_causal, PrefillHeadMode::dense_causal};
  workload.batch[0].q = Tensor();  // a decode-only workload has no prefill queries
  EXPECT_THROW(evaluate_prefill(workload, plan, run, 0, 1), std::invalid_argument);
}

}  // namespace
}  // namespace unisparse
