#include "framework/sparse/page_selector.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <numeric>

#include "framework/sparse/page_scores.h"
#include "framework/sparse/top_pages.h"
#include "tests/sparse/naive_attention.h"

namespace unisparse {
namespace {

using Pages = std::vector<int32_t>;

// One sequence whose token t has key key_of_token(t) (prefill T tokens, then `steps` decode tokens)
// and whose decode queries are query_of_head(h) at every step.
Workload crafted_workload(ModelShape shape, int context_len, int steps,
                          const std::function<std::vector<float>(int)>& key_of_token,
                          const std::function<std::vector<float>(int)>& query_of_head) {
  Workload w = testing::random_workload(shape, context_len, steps, 1, 0);
  Sequence& seq = w.batch[0];
  for (int t = 0; t < context_len + steps; ++t) {
    const std::vector<float> key = key_of_token(t);
    for (int kv = 0; kv < shape.num_kv_heads; ++kv) {
      float* row = t < context_len ? seq.k.row({kv, t}) : seq.k_decode.row({t - context_len, kv});
      std::copy(key.begin(), key.end(), row);
    }
  }
  for (int s = 0; s < steps; ++s)
    for (int h = 0; h < shape.num_q_heads; ++h) {
      const std::vector<float> query = query_of_head(h);
      std::copy(query.begin(), query.end(), seq.q_decode.row({s, h}));
    }
  return w;
}

DecodePlan selection_plan(PageGeometry geometry, SelectionPolicy policy) {
  DecodePlan plan;
  plan.mode = SparsityMode::dynamic_only;
  plan.geometry = geometry;
  plan.policy = policy;
  return plan;
}

TEST(PageSelector, ReusesCachedPagesAndAddsAPageOpenedMidInterval) {
  // Pages of 4 tokens; budget 8 = 2 pages. Keys (one channel, query +1) score page 1 highest among
  // the early pages and page 2 highest once it is complete.
  const int context_len = 10;  // pages 0, 1 full; page 2 holds 2 tokens before decode
  const auto key = [](int t) { return std::vector<float>{t / 4 == 1 ? 5.0f : t / 4 == 2 ? 9.0f : 0.0f}; };
  const Workload w = crafted_workload({1, 1, 1}, context_len, 8, key, [](int) { return std::vector<float>{1.0f}; });
  const DecodeSelections selections =
      select_all_steps(w, selection_plan({4, 4}, {8, 4, GqaSelection::per_query_head}));
  ASSERT_EQ(selections.size(), 8u);
  // step: tokens attended -> pages; the selector runs at steps 0 and 4.
  const std::vector<Pages> expected{
      {1, 2},  // 0: 11 tokens, pages 0..2; page 2 is last, so not scored: page 1 wins
      {1, 2},  // 1: 12 tokens
      {1, 3},  // 2: 13 tokens open page 3: the cached page 1 plus the new last page
      {1, 3},  // 3
      {2, 3},  // 4: selector again: page 2 (score 9) beats page 1
      {2, 3},  // 5
      {2, 4},  // 6: page 4 opens
      {2, 4},  // 7
  };
  for (int s = 0; s < 8; ++s) EXPECT_EQ(Pages(selections[s].row(0).begin(), selections[s].row(0).end()), expected[s]) << "step " << s;
}

TEST(PageSelector, AttendsEveryPageWheneverTheContextFitsTheBudget) {
  // 6 tokens before decode, pages of 4, budget 12 = 3 pages: steps 0..5 see at most 3 pages.
  const Workload w = testing::random_workload({2, 1, 3}, 6, 9, 1, 4);
  const DecodeSelections selections =
      select_all_steps(w, selection_plan({4, 2}, {12, 3, GqaSelection::per_query_head}));
  for (int s = 0; s < 9; ++s) {
    const int num_pages = int(ceil_div(w.tokens_at_step(s), 4));
    for (int h = 0; h < 2; ++h) {
      const std::span<const int32_t> row = selections[s].row(h);
      if (num_pages <= 3) {
        Pages all(num_pages);
        std::iota(all.begin(), all.end(), 0);
        EXPECT_EQ(Pages(row.begin(), row.end()), all) << "step " << s;
      } else {
        EXPECT_EQ(row.size(), 3u) << "step " << s;
        EXPECT_EQ(row.back(), num_pages - 1) << "step " << s;
      }
    }
  }
}

TEST(PageSelector, BudgetAboveTheContextAttendsEveryPage) {
  const Workload w = testing::random_workload({3, 1, 5}, 37, 4, 2, 9);
  const DecodeSelections selections =
      select_all_steps(w, selection_plan({8, 4}, {1024, 2, GqaSelection::per_query_head}));
  for (int s = 0; s < 4; ++s)
    for (int row = 0; row < 6; ++row)
      EXPECT_EQ(selections[s].row(row).size(), size_t(ceil_div(w.tokens_at_step(s), 8)));
}

// Every step against scores recomputed from scratch at the step's selector step.
TEST(PageSelector, RandomWorkloadsMatchRecomputedSelections) {
  for (uint64_t seed = 0; seed < 6; ++seed) {
    const ModelShape shape{6, 2, 11};
    const int context_len = 61 + int(seed) * 13;
    const Workload w = testing::random_workload(shape, context_len, 11, 2, seed);
    const PageGeometry geometry{8, seed % 2 ? 2 : 8};
    const SelectionPolicy policy{24, 1 + int(seed % 4), GqaSelection::per_query_head};
    const DecodeSelections selections = select_all_steps(w, selection_plan(geometry, policy));
    const int k = 3;
    for (int s = 0; s < w.decode_steps; ++s) {
      const int selector_step = s - s % policy.reuse_interval;
      const int selector_tokens = w.tokens_at_step(selector_step);
      const KeyStatsSet stats(w, geometry.logical_page_size, selector_tokens);
      const int num_pages = int(ceil_div(w.tokens_at_step(s), geometry.physical_page_size));
      for (int b = 0; b < 2; ++b)
        for (int h = 0; h < shape.num_q_heads; ++h) {
          Pages expected(num_pages);
          std::iota(expected.begin(), expected.end(), 0);
          if (num_pages > k) {
            const std::span<const float> q{w.batch[b].q_decode.row({selector_step, h}), 11};
            const auto scores = physical_page_scores(q, stats.at(b, shape.kv_head_of(h)), geometry);
            expected = top_scored_pages(scores, int(scores.size()), k);
            expected.push_back(num_pages - 1);
          }
          const std::span<const int32_t> row = selections[s].row(b * shape.num_q_heads + h);
          ASSERT_EQ(Pages(row.begin(), row.end()), expected)
              << "seed " << seed << " step " << s << " b " << b << " head " << h;
        }
    }
  }
}

TEST(PageSelector, SharedGqaModesGiveOneRowPerGroup) {
  const ModelShape shape{8, 2, 6};
  const Workload w = testing::random_workload(shape, 200, 6, 2, 17);
  for (GqaSelection mode : {GqaSelection::kv_head_max, GqaSelection::kv_head_sum}) {
    const DecodeSelections selections = select_all_steps(w, selection_plan({16, 4}, {64, 2, mode}));
    for (int s = 0; s < 6; ++s)
      for (int b = 0; b < 2; ++b)
        for (int h = 0; h < shape.num_q_heads; ++h) {
          const int first_of_group = shape.kv_head_of(h) * shape.group_size();
          const auto row = selections[s].row(b * 8 + h);
          const auto group_row = selections[s].row(b * 8 + first_of_group);
          EXPECT_TRUE(std::ranges::equal(row, group_row))
              << to_string(mode) << " step " << s << " b " << b << " head " << h;
          EXPECT_EQ(row.size(), 4u);
        }
  }
}

TEST(PageSelector, SumAndMaxOverTheGroupCanDisagree) {
  // Pages of 2 tokens, budget 4 = the last page + 1. Keys: page 0 = (10, 0), page 1 = (0, 10),
  // page 2 = (6, 6). Query head 0 = (1, 0) scores pages [10, 0, 6]; head 1 = (0, 1) scores
  // [0, 10, 6]. Max over the group: [10, 10, 6] -> page 0 (tie, lower index). Sum: [10, 10, 12]
  // -> page 2. Per query head: head 0 -> page 0, head 1 -> page 1.
  const auto key = [](int t) {
    switch (t / 2) {
      case 0: return std::vector<float>{10, 0};
      case 1: return std::vector<float>{0, 10};
      case 2: return std::vector<float>{6, 6};
      default: return std::vector<float>{0, 0};
    }
  };
  const auto query = [](int h) { return h == 0 ? std::vector<float>{1, 0} : std::vector<float>{0, 1}; };
  const Workload w = crafted_workload({2, 1, 2}, 7, 1, key, query);
  const auto rows_for = [&](GqaSelection mode) {
    const Csr step0 = select_all_steps(w, selection_plan({2, 2}, {4, 1, mode}))[0];
    return std::vector<Pages>{Pages(step0.row(0).begin(), step0.row(0).end()),
                              Pages(step0.row(1).begin(), step0.row(1).end())};
  };
  EXPECT_EQ(rows_for(GqaSelection::per_query_head), (std::vector<Pages>{{0, 3}, {1, 3}}));
  EXPECT_EQ(rows_for(GqaSelection::kv_head_max), (std::vector<Pages>{{0, 3}, {0, 3}}));
  EXPECT_EQ(rows_for(GqaSelection::kv_head_sum), (std::vector<Pages>{{2, 3}, {2, 3}}));
}

TEST(PageSelector, HeadsLeftOutOfTheSelectionGetEmptyRows) {
  const ModelShape shape{4, 2, 4};
  const Workload w = testing::random_workload(shape, 40, 1, 1, 2);
  KeyStatsSet stats(w, 4);
  stats.append_decode_token(w, 0);
  PageSelector selector(shape, {8, 4}, {16, 1, GqaSelection::per_query_head}, 1, {true, false});
  const Csr rows = selector.select(0, w.tokens_at_step(0), &stats, w);
  EXPECT_EQ(rows.row(0).size(), 2u);
  EXPECT_EQ(rows.row(1).size(), 2u);
  EXPECT_TRUE(rows.row(2).empty());
  EXPECT_TRUE(rows.row(3).empty());
}

TEST(PageSelector, ReuseWithoutAnEarlierSelectionIsAnError) {
  const ModelShape shape{1, 1, 4};
  const Workload w = testing::random_workload(shape, 20, 2, 1, 2);
  KeyStatsSet stats(w, 4, w.tokens_at_step(1));
  PageSelector selector(shape, {4, 4}, {8, 2, GqaSelection::per_query_head}, 1);
  EXPECT_THROW(selector.select(1, w.tokens_at_step(1), &stats, w), std::logic_error);
  EXPECT_THROW(selector.select(0, w.tokens_at_step(0), &stats, w), std::logic_error);  // stats ahead
}

TEST(PageSelector, RejectsInvalidConfigurations) {
  const ModelShape shape{1, 1, 4};
  EXPECT_THROW(PageSelector(shape, {16, 6}, {64, 1, GqaSelection::per_query_head}, 1), std::invalid_argument);
  EXPECT_THROW(PageSelector(shape, {16, 4}, {40, 1, GqaSelection::per_query_head}, 1), std::invalid_argument);
  EXPECT_THROW(PageSelector(shape, {16, 4}, {64, 0, GqaSelection::per_query_head}, 1), std::invalid_argument);
}

}  // namespace
}  // namespace unisparse
