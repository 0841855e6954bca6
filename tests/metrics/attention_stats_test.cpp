// Attention statistics on hand-built workloads whose softmax is known in closed form: uniform
// attention (every logit 0) and one-hot-like attention (one key at logit L, the rest at 0).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "framework/core/error.h"
#include "framework/metrics/attention_stats.h"

namespace unisparse {
namespace {

// Zero keys, values and queries: every logit is 0, so step s weighs its n = T + s + 1 tokens 1/n.
Workload zero_workload(ModelShape shape, int context_len, int decode_steps) {
  Workload workload;
  workload.name = "constructed";
  workload.shape = shape;
  workload.heads = HeadLayout::all_dense(shape.num_kv_heads);
  workload.context_len = context_len;
  workload.decode_steps = decode_steps;
  workload.dtype = DType::fp32;
  Sequence sequence;
  sequence.k = Tensor({shape.num_kv_heads, context_len, shape.head_dim});
  sequence.v = Tensor({shape.num_kv_heads, context_len, shape.head_dim});
  sequence.q_decode = Tensor({decode_steps, shape.num_q_heads, shape.head_dim});
  sequence.k_decode = Tensor({decode_steps, shape.num_kv_heads, shape.head_dim});
  sequence.v_decode = Tensor({decode_steps, shape.num_kv_heads, shape.head_dim});
  workload.batch.push_back(std::move(sequence));
  return workload;
}

double mean_over_steps(int context_len, int steps, auto per_step) {
  double sum = 0;
  for (int s = 0; s < steps; ++s) sum += per_step(context_len + s + 1);
  return sum / steps;
}

TEST(AttentionStats, UniformAttentionHasTheClosedFormShares) {
  const int T = 1000, steps = 3;  // n = 1001 .. 1003: 16 pages of 64, the last one partial
  const Workload workload = zero_workload({2, 1, 4}, T, steps);
  AttentionStatsSettings settings;
  settings.sink_tokens = {4, 64};
  settings.local_tokens = 256;
  settings.top_fractions = {0.01, 0.1};
  settings.page_sizes = {16, 64};
  settings.token_budget = 128;
  settings.overlap_page_size = 64;
  settings.overlap_lags = {1, 2};
  const std::vector<HeadAttentionStats> heads = attention_stats(workload, settings);
  ASSERT_EQ(heads.size(), 2u);
  for (const HeadAttentionStats& head : heads) {
    EXPECT_EQ(head.kv_head, 0);
    auto share = [&](auto tokens) { return mean_over_steps(T, steps, [&](int n) { return tokens(n) / double(n); }); };
    EXPECT_NEAR(head.sink_mass[0], share([](int) { return 4; }), 1e-12);
    EXPECT_NEAR(head.sink_mass[1], share([](int) { return 64; }), 1e-12);
    EXPECT_NEAR(head.local_mass, share([](int) { return 256; }), 1e-12);
    EXPECT_NEAR(head.sink_local_mass[1], share([](int) { return 64 + 256; }), 1e-12);
    // ceil(0.01 * n) = 11 and ceil(0.1 * n) = 101 tokens for n = 1001 .. 1003.
    EXPECT_NEAR(head.top_mass[0], share([](int) { return 11; }), 1e-12);
    EXPECT_NEAR(head.top_mass[1], share([](int) { return 101; }), 1e-12);
    EXPECT_NEAR(head.budget_mass, share([](int) { return 128; }), 1e-12);
    // The oracle's k pages: the partial last page (n mod P tokens) and k - 1 full pages, over the
    // 128 best tokens.
    auto efficiency = [&](int page) {
      const int k = 128 / page;
      return mean_over_steps(T, steps, [&](int n) { return ((k - 1) * page + n % page) / 128.0; });
    };
    EXPECT_NEAR(head.page_efficiency[0], efficiency(16), 1e-12);
    EXPECT_NEAR(head.page_efficiency[1], efficiency(64), 1e-12);
    // Ties go to the lower page: page 0 and the last page at every step, so nothing moves.
    EXPECT_DOUBLE_EQ(head.oracle_overlap[0], 1.0);
    EXPECT_DOUBLE_EQ(head.oracle_overlap[1], 1.0);
    EXPECT_NEAR(head.reuse_retention[0], 1.0, 1e-12);
    EXPECT_TRUE(std::isnan(head.needle_mass));
    EXPECT_TRUE(std::isnan(head.needle_mass_peak));
  }
}

TEST(AttentionStats, TheSinkAndLocalWindowCountTokensOnce) {
  const Workload workload = zero_workload({1, 1, 4}, 10, 2);  // n = 11, 12
  AttentionStatsSettings settings;
  settings.sink_tokens = {8};
  settings.local_tokens = 8;
  settings.page_sizes = {4};
  settings.token_budget = 8;
  settings.overlap_page_size = 4;
  const HeadAttentionStats head = attention_stats(workload, settings).front();
  EXPECT_NEAR(head.sink_local_mass[0], 1.0, 1e-12);
  EXPECT_NEAR(head.sink_mass[0] + head.local_mass, (16.0 / 11 + 16.0 / 12) / 2, 1e-12);
  // A budget that covers more than the context takes everything: both masses are 1.
  settings.token_budget = 16;
  const HeadAttentionStats covered = attention_stats(workload, settings).front();
  EXPECT_NEAR(covered.budget_mass, 1.0, 1e-12);
  EXPECT_NEAR(covered.page_efficiency[0], 1.0, 1e-12);
}

// Step 0 and 2 seek key A (channel 0), step 1 key B (channel 1), each at logit kLogit; A is also
// the needle.
constexpr double kLogit = 10.0;
constexpr int kTokenA = 100, kTokenB = 300;  // pages 1 and 4 of 64 tokens; 16-token pages 6, 18

Workload seeking_workload() {
  Workload workload = zero_workload({1, 1, 4}, 500, 3);  // n = 501 .. 503, 8 pages of 64
  Sequence& sequence = workload.batch[0];
  sequence.k.row({0, kTokenA})[0] = static_cast<float>(kLogit);
  sequence.k.row({0, kTokenB})[1] = static_cast<float>(kLogit);
  // q . k / sqrt(4) = kLogit when the query holds 2 in the key's channel.
  for (int step : {0, 2}) sequence.q_decode.row({step, 0})[0] = 2.0f;
  sequence.q_decode.row({1, 0})[1] = 2.0f;
  sequence.needle_tokens = {kTokenA};
  return workload;
}

TEST(AttentionStats, OneHotAttentionMovesTheOraclePages) {
  AttentionStatsSettings settings;
  settings.top_fractions = {0.01};
  settings.page_sizes = {16};
  settings.token_budget = 128;
  settings.overlap_page_size = 64;
  settings.overlap_lags = {1, 2};
  const HeadAttentionStats head = attention_stats(seeking_workload(), settings).front();
  const double peak = std::exp(kLogit);
  auto partition = [&](int n) { return peak + n - 1; };  // every other token weighs 1

  // ceil(0.01 * n) = 6 tokens: the peak and five others.
  EXPECT_NEAR(head.top_mass[0], mean_over_steps(500, 3, [&](int n) { return (peak + 5) / partition(n); }),
              1e-9);
  // 16-token pages, k = 8: the partial last page (n mod 16 tokens), the peak's page and six full
  // pages, against the peak and 127 other tokens.
  EXPECT_NEAR(head.page_efficiency[0],
              mean_over_steps(500, 3, [&](int n) { return (peak + 15 + 6 * 16 + n % 16) / (peak + 127); }),
              1e-9);
  // O_0 = O_2 = {1, 7}, O_1 = {4, 7}: lag 1 shares the last page only, lag 2 everything.
  EXPECT_DOUBLE_EQ(head.oracle_overlap[0], 0.5);
  EXPECT_DOUBLE_EQ(head.oracle_overlap[1], 1.0);
  // Reusing the previous step's page at step s keeps 64 unit tokens of it and the last page
  // (n - 448 tokens) against the peak's page and the last page.
  auto retention = [&](int n) { return (64.0 + n - 448) / (peak + 63 + n - 448); };
  EXPECT_NEAR(head.reuse_retention[0], (retention(502) + retention(503)) / 2, 1e-9);
  EXPECT_NEAR(head.reuse_retention[1], 1.0, 1e-12);
  // The needle (token A) holds the peak at steps 0 and 2 and one unit at step 1.
  EXPECT_NEAR(head.needle_mass, (peak / partition(501) + 1 / partition(502) + peak / partition(503)) / 3,
              1e-9);
  EXPECT_NEAR(head.needle_mass_peak, peak / partition(501), 1e-12);
}

TEST(AttentionStats, PlantedNeedleTargetsAreTheNeedleOfASyntheticWorkload) {
  Workload workload = seeking_workload();
  Sequence& sequence = workload.batch[0];
  sequence.needle_tokens.clear();
  sequence.needle_targets.assign(3, std::vector<std::vector<int32_t>>(1));
  sequence.needle_targets[1][0] = {kTokenB};  // only step 1 seeks, and it seeks B
  const HeadAttentionStats head = attention_stats(workload, {}).front();
  const double peak = std::exp(kLogit);
  EXPECT_NEAR(head.needle_mass, (1 / (peak + 500) + peak / (peak + 501) + 1 / (peak + 502)) / 3, 1e-9);
}

TEST(AttentionStats, BadSettingsAndWorkloadsAreInputErrors) {
  const Workload workload = zero_workload({1, 1, 4}, 64, 2);
  auto expect_error = [&](AttentionStatsSettings settings, const std::string& option) {
    try {
      attention_stats(workload, settings);
      ADD_FAILURE() << "no error for " << option;
    } catch (const InputError& error) {
      EXPECT_NE(std::string(error.what()).find(option), std::string::npos) << error.what();
    }
  };
  AttentionStatsSettings settings;
  settings.token_budget = 100;  // not a multiple of 16
  expect_error(settings, "--token-budget");
  settings = {};
  settings.top_fractions = {0.0};
  expect_error(settings, "--top-fractions");
  settings = {};
  settings.overlap_lags = {};
  expect_error(settings, "--overlap-lags");
  settings = {};
  settings.sink_tokens = {-1};
  expect_error(settings, "--sink-tokens");
  EXPECT_THROW(attention_stats(zero_workload({1, 1, 4}, 64, 0), {}), InputError);
}

}  // namespace
}  // namespace unisparse
