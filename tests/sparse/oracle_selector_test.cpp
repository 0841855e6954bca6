// The oracle page selector against a naive fp64 softmax: the heaviest pages of the true attention,
// under the same budget, forced last page, reuse and GQA rules as Quest.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "framework/sparse/cpu_attention.h"
#include "framework/sparse/page_selector.h"
#include "framework/sparse/top_pages.h"
#include "tests/common/random_workload.h"

namespace unisparse {
namespace {

using Pages = std::vector<int32_t>;

// Softmax weights of decode query (b, step, q_head) over tokens 0 .. T + step, naively in fp64.
std::vector<double> naive_weights(const Workload& w, int b, int step, int q_head) {
  const int d = w.shape.head_dim, n = w.tokens_at_step(step);
  const float* query = w.batch[b].q_decode.row({step, q_head});
  std::vector<double> logits(n);
  for (int t = 0; t < n; ++t) {
    const float* key = w.key(b, w.shape.kv_head_of(q_head), t);
    double dot = 0.0;
    for (int i = 0; i < d; ++i) dot += double{query[i]} * key[i];
    logits[t] = dot / std::sqrt(double(d));
  }
  const double max_logit = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (double& logit : logits) sum += logit = std::exp(logit - max_logit);
  for (double& weight : logits) weight /= sum;
  return logits;
}

std::vector<double> naive_page_masses(const Workload& w, int b, int step, int q_head, int page) {
  const std::vector<double> weights = naive_weights(w, b, step, q_head);
  std::vector<double> masses(ceil_div(weights.size(), page), 0.0);
  for (size_t t = 0; t < weights.size(); ++t) masses[t / page] += weights[t];
  return masses;
}

DecodePlan oracle_plan(int page, SelectionPolicy policy) {
  DecodePlan plan;
  plan.mode = SparsityMode::dynamic_only;
  plan.geometry = {page, page};
  plan.policy = policy;
  plan.selector = PageSelectorKind::oracle;
  return plan;
}

TEST(OracleSelector, AttentionWeightsAreTheSoftmaxOfTheCpuAttention) {
  const Workload w = testing::random_workload({4, 2, 16}, 50, 2, 1, 3);
  const std::vector<TokenRange> context{{0, w.tokens_at_step(1)}};
  const std::vector<double> weights =
      attention_weights({w.batch[0].q_decode.row({1, 3}), 16}, context, w, 0, 1);
  const std::vector<double> expected = naive_weights(w, 0, 1, 3);
  ASSERT_EQ(weights.size(), expected.size());
  double sum = 0.0;
  for (size_t t = 0; t < weights.size(); ++t) {
    EXPECT_NEAR(weights[t], expected[t], 1e-6 * std::max(1.0, expected[t] * 100)) << "token " << t;
    sum += weights[t];
  }
  EXPECT_NEAR(sum, 1.0, 1e-12);
  EXPECT_TRUE(attention_weights({w.batch[0].q_decode.row({1, 3}), 16}, {}, w, 0, 1).empty());
}

TEST(OracleSelector, EveryStepTakesTheHeaviestPagesAndTheLastPage) {
  for (uint64_t seed = 0; seed < 4; ++seed) {
    const ModelShape shape{4, 2, 16};
    const Workload w = testing::random_workload(shape, 70 + int(seed) * 9, 5, 2, seed, 3.0);
    const int page = 8, k = 3;
    const DecodeSelections selections =
        select_all_steps(w, oracle_plan(page, {page * k, 1, GqaSelection::per_query_head}));
    for (int s = 0; s < w.decode_steps; ++s)
      for (int b = 0; b < 2; ++b)
        for (int h = 0; h < shape.num_q_heads; ++h) {
          const std::vector<double> masses = naive_page_masses(w, b, s, h, page);
          const Pages expected = top_pages(masses, int(masses.size()), k);
          const auto row = selections[s].row(b * shape.num_q_heads + h);
          EXPECT_EQ(Pages(row.begin(), row.end()), expected)
              << "seed " << seed << " step " << s << " b " << b << " head " << h;
        }
  }
}

TEST(OracleSelector, ReusedStepsKeepTheSelectorStepsPagesAndAddTheNewLastPage) {
  const ModelShape shape{2, 1, 16};
  const Workload w = testing::random_workload(shape, 29, 6, 1, 11, 3.0);
  const int page = 4, k = 3, reuse = 4;
  const DecodeSelections selections =
      select_all_steps(w, oracle_plan(page, {page * k, reuse, GqaSelection::per_query_head}));
  for (int s = 0; s < w.decode_steps; ++s) {
    const int selector_step = s - s % reuse;
    const int num_pages = int(ceil_div(w.tokens_at_step(s), page));
    for (int h = 0; h < 2; ++h) {
      const std::vector<double> masses = naive_page_masses(w, 0, selector_step, h, page);
      Pages expected = top_scored_pages(masses, int(masses.size()), k);
      expected.push_back(num_pages - 1);
      const auto row = selections[s].row(h);
      EXPECT_EQ(Pages(row.begin(), row.end()), expected) << "step " << s << " head " << h;
    }
  }
}

TEST(OracleSelector, SharedGqaModesCombineThePageMassesOfTheGroup) {
  const ModelShape shape{4, 1, 16};
  const Workload w = testing::random_workload(shape, 90, 1, 1, 5, 3.0);
  const int page = 8, k = 4;
  for (GqaSelection mode : {GqaSelection::kv_head_max, GqaSelection::kv_head_sum}) {
    const Csr step0 = select_all_steps(w, oracle_plan(page, {page * k, 1, mode}))[0];
    std::vector<double> group;
    for (int h = 0; h < 4; ++h) {
      const std::vector<double> masses = naive_page_masses(w, 0, 0, h, page);
      if (group.empty()) group = masses;
      else
        for (size_t p = 0; p < group.size(); ++p)
          group[p] = mode == GqaSelection::kv_head_max ? std::max(group[p], masses[p])
                                                       : group[p] + masses[p];
    }
    const Pages expected = top_pages(group, int(group.size()), k);
    for (int h = 0; h < 4; ++h) {
      const auto row = step0.row(h);
      EXPECT_EQ(Pages(row.begin(), row.end()), expected) << to_string(mode) << " head " << h;
    }
  }
}

TEST(OracleSelector, NeedsNoKeyStatisticsButQuestDoes) {
  const ModelShape shape{1, 1, 8};
  const Workload w = testing::random_workload(shape, 40, 1, 1, 2);
  PageSelector oracle(shape, {4, 4}, {8, 1, GqaSelection::per_query_head}, 1, {},
                      PageSelectorKind::oracle);
  EXPECT_EQ(oracle.select(0, w.tokens_at_step(0), nullptr, w).row(0).size(), 2u);
  PageSelector quest(shape, {4, 4}, {8, 1, GqaSelection::per_query_head}, 1);
  EXPECT_THROW(quest.select(0, w.tokens_at_step(0), nullptr, w), std::logic_error);
}

}  // namespace
}  // namespace unisparse
