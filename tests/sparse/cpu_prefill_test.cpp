#include "framework/sparse/cpu_prefill.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "framework/sparse/cpu_backend.h"
#include "tests/sparse/naive_attention.h"

namespace unisparse {
namespace {

// Largest |out - naive masked attention| over every (sequence, head, query, channel).
double max_error_against_naive(const Workload& w, const PrefillPlan& plan,
                               const std::vector<Tensor>& out,
                               const std::function<bool(int, int, int)>& block_listed) {
  double worst = 0.0;
  const int num_tokens = w.context_len;
  for (int b = 0; b < w.batch_size(); ++b)
    for (int h = 0; h < w.shape.num_q_heads; ++h)
      for (int i = 0; i < num_tokens; ++i) {
        const PrefillHeadMode mode = plan.head_mode[h];
        const std::vector<double> expected = testing::naive_attention(
            w, b, w.shape.kv_head_of(h), w.batch[b].q.row({h, i}), num_tokens, [&](int j) {
              if (!plan.visible(mode, i, j)) return false;
              return mode != PrefillHeadMode::block_list || block_listed(h, i, j);
            });
        for (int c = 0; c < w.shape.head_dim; ++c) {
          const double got = out[b].at({h, i, c});
          if (!std::isfinite(got)) return INFINITY;
          worst = std::max(worst, std::abs(got - expected[c]));
        }
      }
  return worst;
}

TEST(CpuPrefill, DenseCausalAndStreamingEqualNaiveMaskedAttention) {
  const ModelShape shape{4, 2, 64};
  for (int num_tokens : {63, 100}) {
    const Workload w = testing::random_workload(shape, num_tokens, 0, 1, num_tokens);
    HeadLayout heads = HeadLayout::with_streaming_fraction(2, 0.5, 7, 23);  // not multiples of 16
    const PrefillPlan plan = make_prefill_plan(shape, heads, 16, true);
    ASSERT_EQ(plan.head_mode[2], PrefillHeadMode::streaming);
    const std::vector<Tensor> out = cpu_prefill(w, plan);
    ASSERT_EQ(out[0].shape(), (std::vector<int64_t>{4, num_tokens, 64}));
    EXPECT_LT(max_error_against_naive(w, plan, out, {}), 2e-5) << "T " << num_tokens;
  }
}

TEST(CpuPrefill, BlockListHeadsAttendTheirListedBlocksCausally) {
  const ModelShape shape{3, 1, 32};
  const int num_tokens = 100, block_size = 16;
  const int num_blocks = 7;  // the last block holds 4 tokens
  const Workload w = testing::random_workload(shape, num_tokens, 0, 2, 5);
  PrefillPlan plan;
  plan.block_size = block_size;
  plan.head_mode = {PrefillHeadMode::block_list, PrefillHeadMode::dense_causal,
                    PrefillHeadMode::block_list};
  std::mt19937 rng(3);
  for (int h = 0; h < 3; ++h)
    for (int q_block = 0; q_block < num_blocks; ++q_block) {
      // Random subsets; always the diagonal block, so every query sees at least itself.
      std::vector<int32_t> blocks;
      for (int kv_block = 0; kv_block <= q_block; ++kv_block)
        if (kv_block == q_block || rng() % 2) blocks.push_back(kv_block);
      plan.blocks.append_row(blocks);
    }
  const auto listed = [&](int h, int i, int j) {
    return std::ranges::find(plan.blocks.row(h * num_blocks + i / block_size), j / block_size) !=
           plan.blocks.row(h * num_blocks + i / block_size).end();
  };
  EXPECT_LT(max_error_against_naive(w, plan, cpu_prefill(w, plan), listed), 2e-5);
}

TEST(CpuPrefill, RejectsMalformedBlockLists) {
  const Workload w = testing::random_workload({1, 1, 8}, 20, 0, 1, 1);
  PrefillPlan plan;
  plan.block_size = 8;
  plan.head_mode = {PrefillHeadMode::block_list};
  plan.blocks.append_row(std::vector<int32_t>{0});
  EXPECT_THROW(cpu_prefill(w, plan), std::invalid_argument);  // 1 row for 3 query blocks
  plan.blocks.append_row(std::vector<int32_t>{1, 0});
  plan.blocks.append_row(std::vector<int32_t>{2});
  EXPECT_THROW(cpu_prefill(w, plan), std::invalid_argument);  // not ascending
}

TEST(CpuBackend, PrefillReportsWallTimes) {
  const ModelShape shape{2, 1, 16};
  const Workload w = testing::random_workload(shape, 33, 0, 1, 9);
  const PrefillPlan plan = make_prefill_plan(shape, HeadLayout::all_dense(1), 16, false);
  RunOptions options;
  options.timing.warmup = 0;
  options.timing.min_iters = 2;
  const PrefillRun run = make_cpu_backend()->prefill(w, plan, options);
  EXPECT_EQ(run.out[0].storage(), cpu_prefill(w, plan)[0].storage());
  EXPECT_EQ(run.times.timer, "wall");
  EXPECT_EQ(run.times.iterations, 2);
  EXPECT_GT(run.times.total_us, 0.0);
  EXPECT_EQ(run.times.attention_us, run.times.total_us);
}

}  // namespace
}  // namespace unisparse
