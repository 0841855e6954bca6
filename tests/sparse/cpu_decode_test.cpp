#include "framework/sparse/cpu_decode.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "framework/sparse/cpu_backend.h"
#include "framework/sparse/page_selector.h"
#include "tests/sparse/naive_attention.h"

namespace unisparse {
namespace {

// Largest |out - naive| over every (step, sequence, query head, channel); the naive attention sees
// the tokens `visible(step, b, q_head, token)` allows.
double max_error_against_naive(
    const Workload& w, const std::vector<Tensor>& out,
    const std::function<bool(int, int, int, int)>& visible) {
  double worst = 0.0;
  for (int s = 0; s < w.decode_steps; ++s)
    for (int b = 0; b < w.batch_size(); ++b)
      for (int h = 0; h < w.shape.num_q_heads; ++h) {
        const std::vector<double> expected = testing::naive_attention(
            w, b, w.shape.kv_head_of(h), w.batch[b].q_decode.row({s, h}), w.tokens_at_step(s),
            [&](int t) { return visible(s, b, h, t); });
        for (int i = 0; i < w.shape.head_dim; ++i) {
          const double got = out[b].at({s, h, i});
          if (!std::isfinite(got)) return INFINITY;
          worst = std::max(worst, std::abs(got - expected[i]));
        }
      }
  return worst;
}

bool in_pages(std::span<const int32_t> pages, int page_size, int token) {
  return std::ranges::find(pages, token / page_size) != pages.end();
}

DecodePlan make_plan(SparsityMode mode, const HeadLayout& heads, PageGeometry geometry,
                     SelectionPolicy policy) {
  DecodePlan plan;
  plan.mode = mode;
  plan.heads = heads;
  plan.geometry = geometry;
  plan.policy = policy;
  return plan;
}

TEST(CpuDecode, DenseModeEqualsNaiveAttentionOverEveryToken) {
  const ModelShape shape{6, 2, 64};
  const Workload w = testing::random_workload(shape, 63, 5, 2, 42);
  const DecodePlan plan = make_plan(SparsityMode::dense, HeadLayout::all_dense(2), {16, 16},
                                    {64, 4, GqaSelection::per_query_head});
  const CpuDecodeResult result = cpu_decode(w, plan);
  ASSERT_EQ(result.out.size(), 2u);
  ASSERT_EQ(result.out[0].shape(), (std::vector<int64_t>{5, 6, 64}));
  EXPECT_LT(max_error_against_naive(w, result.out, [](int, int, int, int) { return true; }), 2e-5);
  for (int s = 0; s < 5; ++s) {
    ASSERT_EQ(result.selections[s].rows(), 12);
    for (int row = 0; row < 12; ++row)
      EXPECT_EQ(result.selections[s].row(row).size(), size_t(ceil_div(w.tokens_at_step(s), 16)));
  }
}

TEST(CpuDecode, StreamingHeadsAttendExactlySinkAndLocalTokens) {
  const ModelShape shape{4, 2, 24};
  const int sink = 5, local = 11, page_size = 8;  // neither a multiple of the page
  const HeadLayout heads = HeadLayout::with_streaming_fraction(2, 0.5, sink, local);
  ASSERT_TRUE(heads.is_streaming(1));
  ASSERT_FALSE(heads.is_streaming(0));
  const Workload w = testing::random_workload(shape, 37, 4, 1, 7);
  const CpuDecodeResult result =
      cpu_decode(w, make_plan(SparsityMode::static_only, heads, {page_size, 4},
                              {16, 1, GqaSelection::per_query_head}));
  const auto visible = [&](int s, int, int h, int t) {
    if (!heads.is_streaming(shape.kv_head_of(h))) return true;
    return t < sink || t >= w.tokens_at_step(s) - local;
  };
  EXPECT_LT(max_error_against_naive(w, result.out, visible), 2e-5);
  // Step 0 attends 38 tokens: sink 0..4 (page 0) and local 27..37 (pages 3, 4).
  EXPECT_TRUE(std::ranges::equal(result.selections[0].row(2), std::vector<int32_t>{0, 3, 4}));
  EXPECT_EQ(result.selections[0].row(0).size(), 5u);  // dense head: every page
}

TEST(CpuDecode, StreamingRangesAreTokenExact) {
  for (int num_tokens : {1, 4, 15, 16, 17, 40, 100})
    for (auto [sink, local] : {std::pair{0, 7}, std::pair{5, 11}, std::pair{3, 1}, std::pair{20, 30}}) {
      const std::vector<TokenRange> ranges = attended_ranges(true, sink, local, 8, {}, num_tokens);
      for (int t = 0; t < num_tokens; ++t) {
        const bool listed = std::ranges::any_of(
            ranges, [&](const TokenRange& r) { return r.begin <= t && t < r.end; });
        EXPECT_EQ(listed, t < sink || t >= num_tokens - local)
            << "n " << num_tokens << " sink " << sink << " local " << local << " token " << t;
      }
    }
}

TEST(CpuDecode, PageSelectionAttendsExactlyTheSelectedPages) {
  const ModelShape shape{6, 3, 32};
  const HeadLayout heads = HeadLayout::with_streaming_fraction(3, 0.34, 6, 13);
  const Workload w = testing::random_workload(shape, 75, 9, 2, 3);
  const PageGeometry geometry{16, 4};
  for (SparsityMode mode : {SparsityMode::dynamic_only, SparsityMode::static_dynamic})
    for (GqaSelection gqa : {GqaSelection::per_query_head, GqaSelection::kv_head_sum}) {
      const DecodePlan plan = make_plan(mode, heads, geometry, {32, 3, gqa});
      const CpuDecodeResult result = cpu_decode(w, plan);
      const DecodeSelections selector_only = select_all_steps(w, plan);
      const auto streaming_head = [&](int h) {
        return mode == SparsityMode::static_dynamic && heads.is_streaming(shape.kv_head_of(h));
      };
      for (int s = 0; s < w.decode_steps; ++s)
        for (int row = 0; row < 12; ++row) {
          if (streaming_head(row % 6)) continue;
          ASSERT_TRUE(std::ranges::equal(result.selections[s].row(row), selector_only[s].row(row)))
              << to_string(mode) << " step " << s << " row " << row;
        }
      const auto visible = [&](int s, int b, int h, int t) {
        if (streaming_head(h)) return t < 6 || t >= w.tokens_at_step(s) - 13;
        return in_pages(result.selections[s].row(b * 6 + h), 16, t);
      };
      EXPECT_LT(max_error_against_naive(w, result.out, visible), 2e-5) << to_string(mode);
    }
}

TEST(CpuBackend, DecodeMatchesTheDecodePassAndReportsWallTimes) {
  const ModelShape shape{4, 2, 16};
  const Workload w = testing::random_workload(shape, 50, 6, 1, 12);
  const auto backend = make_cpu_backend();
  EXPECT_EQ(backend->name(), "cpu");
  EXPECT_NE(backend->device_name().find("threads"), std::string::npos);
  RunOptions options;
  options.timing.warmup = 1;
  options.timing.min_iters = 3;

  const DecodePlan sparse = make_plan(SparsityMode::dynamic_only, HeadLayout::all_dense(2), {8, 4},
                                      {16, 2, GqaSelection::per_query_head});
  const DecodeRun run = backend->decode(w, sparse, options);
  const CpuDecodeResult pass = cpu_decode(w, sparse);
  EXPECT_EQ(run.selections, pass.selections);
  EXPECT_EQ(run.out[0].storage(), pass.out[0].storage());
  EXPECT_EQ(run.times.timer, "wall");
  EXPECT_EQ(run.times.iterations, 3);
  EXPECT_GE(run.times.stats_us, 0.0);
  EXPECT_GE(run.times.selector_us, 0.0);
  EXPECT_GT(run.times.attention_us, 0.0);
  EXPECT_LE(run.times.total_min_us, run.times.total_us);
  EXPECT_LE(run.times.total_us, run.times.total_max_us);
  EXPECT_TRUE(std::isnan(run.times.topk_us));

  const DecodeRun dense = backend->decode(
      w, make_plan(SparsityMode::dense, HeadLayout::all_dense(2), {8, 4}, {16, 2, {}}), options);
  EXPECT_TRUE(std::isnan(dense.times.stats_us));
  EXPECT_TRUE(std::isnan(dense.times.selector_us));
  EXPECT_GT(dense.times.attention_us, 0.0);

  options.measure = false;
  EXPECT_EQ(backend->decode(w, sparse, options).times.iterations, 0);
}

}  // namespace
}  // namespace unisparse
