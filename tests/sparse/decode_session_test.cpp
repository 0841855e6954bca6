// DecodeSession, the incremental decode a model drives one token at a time: fed the rows of a
// workload step by step (the cache image computed by the session itself), it gives exactly what
// the CPU backend's decode of the whole workload gives, in every mode, selector and KV format.
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "framework/sparse/cpu_decode.h"
#include "framework/sparse/decode_session.h"
#include "tests/common/random_workload.h"

namespace unisparse {
namespace {

// Odd sizes: head_dim 13 (an int4 padding nibble), 101 prompt tokens, pages of 8 with logical 4.
Workload odd_workload(int batch = 1) { return testing::random_workload({6, 3, 13}, 101, 9, batch, 41); }

DecodePlan plan_of(SparsityMode mode, DType kv_storage, PageSelectorKind selector,
                   GqaSelection gqa = GqaSelection::per_query_head) {
  DecodePlan plan;
  plan.mode = mode;
  plan.heads = HeadLayout::with_streaming_fraction(3, 0.34, 5, 9);
  plan.geometry = {8, 4};
  plan.policy = {24, 3, gqa};
  plan.selector = selector;
  plan.kv_storage = kv_storage;
  return plan;
}

std::span<const float> row_of(const Tensor& tensor, int step) {
  return {tensor.row({step}), static_cast<size_t>(tensor.dim(1) * tensor.dim(2))};
}

// Feeds sequence 0 of the workload to a session, raw rows only, and returns (out, selections).
CpuDecodeResult session_decode(const Workload& w, const DecodePlan& plan, int reserve_steps) {
  const Sequence& seq = w.batch[0];
  DecodeSession session(w.shape, plan, 1, reserve_steps);
  session.prefill(seq.k.storage(), seq.v.storage(), w.context_len);
  CpuDecodeResult result;
  result.out.emplace_back(std::vector<int64_t>{w.decode_steps, w.shape.num_q_heads, w.shape.head_dim});
  for (int s = 0; s < w.decode_steps; ++s) {
    const std::span<float> out(result.out[0].row({s}),
                               static_cast<size_t>(w.shape.num_q_heads * w.shape.head_dim));
    result.selections.push_back(session.step(row_of(seq.q_decode, s), row_of(seq.k_decode, s),
                                             row_of(seq.v_decode, s), out));
    EXPECT_EQ(session.steps(), s + 1);
    EXPECT_EQ(session.num_tokens(), w.context_len + s + 1);
  }
  return result;
}

struct Case {
  SparsityMode mode;
  DType kv_storage;
  PageSelectorKind selector;
  GqaSelection gqa;
};

class SessionMatchesCpuDecode : public ::testing::TestWithParam<Case> {};

TEST_P(SessionMatchesCpuDecode, BitForBit) {
  const Case c = GetParam();
  const Workload w = odd_workload();
  const DecodePlan plan = plan_of(c.mode, c.kv_storage, c.selector, c.gqa);
  const CpuDecodeResult expected = cpu_decode(w, plan);
  // reserve 2 steps: the cache grows twice on the way (2 -> 4 -> 8 -> 16).
  const CpuDecodeResult got = session_decode(w, plan, 2);
  ASSERT_EQ(got.selections.size(), expected.selections.size());
  for (size_t s = 0; s < expected.selections.size(); ++s)
    EXPECT_EQ(got.selections[s], expected.selections[s]) << "step " << s;
  ASSERT_EQ(got.out[0].storage().size(), expected.out[0].storage().size());
  for (size_t i = 0; i < expected.out[0].storage().size(); ++i)
    ASSERT_EQ(got.out[0].storage()[i], expected.out[0].storage()[i]) << "output value " << i;
}

INSTANTIATE_TEST_SUITE_P(
    EveryModeAndFormat, SessionMatchesCpuDecode,
    ::testing::Values(
        Case{SparsityMode::dense, DType::fp32, PageSelectorKind::quest, GqaSelection::per_query_head},
        Case{SparsityMode::static_only, DType::fp32, PageSelectorKind::quest, GqaSelection::per_query_head},
        Case{SparsityMode::dynamic_only, DType::fp32, PageSelectorKind::quest, GqaSelection::kv_head_max},
        Case{SparsityMode::static_dynamic, DType::fp32, PageSelectorKind::quest, GqaSelection::per_query_head},
        Case{SparsityMode::static_dynamic, DType::fp32, PageSelectorKind::oracle, GqaSelection::kv_head_sum},
        Case{SparsityMode::static_dynamic, DType::int8, PageSelectorKind::quest, GqaSelection::per_query_head},
        Case{SparsityMode::static_dynamic, DType::int4, PageSelectorKind::oracle, GqaSelection::per_query_head},
        Case{SparsityMode::dynamic_only, DType::fp8, PageSelectorKind::quest, GqaSelection::kv_head_sum},
        Case{SparsityMode::dense, DType::int4, PageSelectorKind::quest, GqaSelection::per_query_head}));

TEST(DecodeSession, Fp16CacheRoundsTheRowsItStores) {
  const Workload w = odd_workload();  // fp32 values, not representable in fp16
  DecodePlan plan = plan_of(SparsityMode::dense, DType::fp16, PageSelectorKind::quest);
  DecodeSession session(w.shape, plan);
  session.prefill(w.batch[0].k.storage(), w.batch[0].v.storage(), w.context_len);
  const float given = w.batch[0].k.at({1, 7, 3});
  const float stored = session.stored_key(0, 1, 7)[3];
  EXPECT_NE(stored, given);
  EXPECT_NEAR(stored, given, std::abs(given) * 1e-3f);
}

TEST(DecodeSession, BatchOfSequencesMatchesCpuDecode) {
  const Workload w = odd_workload(2);
  const DecodePlan plan = plan_of(SparsityMode::static_dynamic, DType::int8, PageSelectorKind::quest);
  const CpuDecodeResult expected = cpu_decode(w, plan);
  // Sequence 1 alone through a session of batch 1 attends the same pages as row block 1.
  Workload second = w;
  second.batch.erase(second.batch.begin());
  const CpuDecodeResult alone = session_decode(second, plan, 16);
  for (int s = 0; s < w.decode_steps; ++s)
    for (int h = 0; h < w.shape.num_q_heads; ++h) {
      const auto got = alone.selections[s].row(h);
      const auto want = expected.selections[s].row(w.shape.num_q_heads + h);
      EXPECT_EQ(std::vector<int32_t>(got.begin(), got.end()),
                std::vector<int32_t>(want.begin(), want.end()))
          << "step " << s << " head " << h;
    }
  for (int64_t i = 0; i < expected.out[1].size(); ++i)
    ASSERT_EQ(alone.out[0].data()[i], expected.out[1].data()[i]) << "value " << i;
}

TEST(DecodeSession, SelectorRunsEveryReuseIntervalAndAddsTheCurrentLastPage) {
  // Every head dense and selected; budget 3 pages of 8; reuse 3. Past the selector step the row is
  // the selector step's scored pages plus the current last page.
  const Workload w = odd_workload();
  DecodePlan plan = plan_of(SparsityMode::dynamic_only, DType::fp32, PageSelectorKind::quest);
  const CpuDecodeResult run = session_decode(w, plan, 16);
  for (int s = 0; s < w.decode_steps; ++s) {
    const int last_page = (w.context_len + s) / 8;
    const int selector_step = s - s % 3;
    for (int h = 0; h < w.shape.num_q_heads; ++h) {
      const auto pages = run.selections[s].row(h);
      ASSERT_EQ(pages.size(), 3u) << "step " << s;
      EXPECT_EQ(pages.back(), last_page) << "step " << s;
      const auto chosen = run.selections[selector_step].row(h);
      EXPECT_EQ(std::vector<int32_t>(pages.begin(), pages.end() - 1),
                std::vector<int32_t>(chosen.begin(), chosen.end() - 1))
          << "step " << s << " head " << h;
    }
  }
}

TEST(DecodeSession, RejectsMisuseWithMessages) {
  const Workload w = odd_workload();
  const DecodePlan plan = plan_of(SparsityMode::static_dynamic, DType::fp32, PageSelectorKind::quest);
  DecodeSession session(w.shape, plan);
  std::vector<float> out(6 * 13);
  EXPECT_THROW(session.step(row_of(w.batch[0].q_decode, 0), row_of(w.batch[0].k_decode, 0),
                            row_of(w.batch[0].v_decode, 0), out),
               std::logic_error);
  EXPECT_THROW(session.prefill(w.batch[0].k.storage(), w.batch[0].v.storage(), w.context_len - 1),
               std::invalid_argument);
  session.prefill(w.batch[0].k.storage(), w.batch[0].v.storage(), w.context_len);
  EXPECT_THROW(session.prefill(w.batch[0].k.storage(), w.batch[0].v.storage(), w.context_len),
               std::logic_error);
  std::vector<float> short_out(5);
  EXPECT_THROW(session.step(row_of(w.batch[0].q_decode, 0), row_of(w.batch[0].k_decode, 0),
                            row_of(w.batch[0].v_decode, 0), short_out),
               std::invalid_argument);
  DecodePlan bad_budget = plan;
  bad_budget.policy.token_budget = 20;  // not a multiple of the page size 8
  EXPECT_THROW(DecodeSession(w.shape, bad_budget), std::invalid_argument);
  DecodePlan bad_layout = plan;
  bad_layout.heads.kv_head_kind.pop_back();
  EXPECT_THROW(DecodeSession(w.shape, bad_layout), std::invalid_argument);
}

}  // namespace
}  // namespace unisparse
