#include "framework/workload/generator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "framework/core/dtype.h"
#include "framework/core/error.h"

namespace unisparse {
namespace {

PointConfig small_point() {
  PointConfig point;
  point.shape = {4, 2, 64};
  point.context_len = 3001;  // odd on purpose
  point.batch = 2;
  point.decode_steps = 24;
  point.streaming_fraction = 0.5;  // KV head 1 streaming, KV head 0 retrieval
  point.sink_tokens = 4;
  point.local_tokens = 256;
  point.seed = 1234;
  return point;
}

// Softmax over the tokens decode query `step` of `q_head` sees (0 .. T + step), fp64.
std::vector<double> decode_attention(const Workload& w, int b, int q_head, int step) {
  const int d = w.shape.head_dim;
  const int kv_head = w.shape.kv_head_of(q_head);
  const float* q = w.batch[b].q_decode.row({step, q_head});
  const int tokens = w.tokens_at_step(step);
  std::vector<double> p(tokens);
  for (int t = 0; t < tokens; ++t) {
    const float* k = w.key(b, kv_head, t);
    double dot = 0;
    for (int i = 0; i < d; ++i) dot += static_cast<double>(q[i]) * k[i];
    p[t] = dot / std::sqrt(static_cast<double>(d));
  }
  const double top = *std::max_element(p.begin(), p.end());
  double sum = 0;
  for (double& x : p) sum += x = std::exp(x - top);
  for (double& x : p) x /= sum;
  return p;
}

double cosine(const float* a, const float* b, int n) {
  double ab = 0, aa = 0, bb = 0;
  for (int i = 0; i < n; ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

bool same_values(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.storage() == b.storage();
}

bool same_workload(const Workload& a, const Workload& b) {
  if (a.batch_size() != b.batch_size()) return false;
  for (int i = 0; i < a.batch_size(); ++i) {
    const Sequence& x = a.batch[i];
    const Sequence& y = b.batch[i];
    if (!same_values(x.q, y.q) || !same_values(x.k, y.k) || !same_values(x.v, y.v) ||
        !same_values(x.q_decode, y.q_decode) || !same_values(x.k_decode, y.k_decode) ||
        !same_values(x.v_decode, y.v_decode) || x.needle_targets != y.needle_targets)
      return false;
  }
  return true;
}

TEST(Generator, ShapesAndLayout) {
  PointConfig point = small_point();
  point.phase = Phase::prefill;
  const Workload w = generate_workload(point);
  ASSERT_EQ(w.batch_size(), 2);
  EXPECT_EQ(w.context_len, 3001);
  EXPECT_EQ(w.decode_steps, 24);
  EXPECT_TRUE(w.heads.is_streaming(1));
  EXPECT_FALSE(w.heads.is_streaming(0));
  const Sequence& s = w.batch[1];
  EXPECT_EQ(s.q.shape(), (std::vector<int64_t>{4, 3001, 64}));
  EXPECT_EQ(s.k.shape(), (std::vector<int64_t>{2, 3001, 64}));
  EXPECT_EQ(s.v.shape(), (std::vector<int64_t>{2, 3001, 64}));
  EXPECT_EQ(s.q_decode.shape(), (std::vector<int64_t>{24, 4, 64}));
  EXPECT_EQ(s.k_decode.shape(), (std::vector<int64_t>{24, 2, 64}));
  EXPECT_EQ(s.v_decode.shape(), (std::vector<int64_t>{24, 2, 64}));
  ASSERT_EQ(s.needle_targets.size(), 24u);
  for (const auto& step : s.needle_targets) {
    ASSERT_EQ(step.size(), 4u);
    EXPECT_TRUE(step[2].empty());  // query heads 2, 3 belong to the streaming KV head 1
    EXPECT_TRUE(step[3].empty());
  }
  for (float x : s.k.storage()) ASSERT_TRUE(std::isfinite(x));
  for (float x : s.q.storage()) ASSERT_TRUE(std::isfinite(x));
}

TEST(Generator, DecodePointsHaveNoPrefillQueries) {
  const Workload w = generate_workload(small_point());
  EXPECT_TRUE(w.batch[0].q.empty());
  EXPECT_FALSE(w.batch[0].q_decode.empty());
}

TEST(Generator, CacheFillPrefillAddsThePromptQueriesAndNothingElseChanges) {
  PointConfig point = small_point();
  const Workload uploaded = generate_workload(point);
  point.cache_fill = CacheFill::prefill;
  const Workload prefilled = generate_workload(point);
  point.phase = Phase::prefill;
  const Workload prefill_point = generate_workload(point);
  for (int b = 0; b < point.batch; ++b) {
    const Sequence& with = prefilled.batch[b];
    const Sequence& without = uploaded.batch[b];
    EXPECT_EQ(with.q.shape(), (std::vector<int64_t>{4, 3001, 64}));
    EXPECT_TRUE(same_values(with.q, prefill_point.batch[b].q)) << "the queries a prefill point gets";
    EXPECT_TRUE(same_values(with.k, without.k));
    EXPECT_TRUE(same_values(with.v, without.v));
    EXPECT_TRUE(same_values(with.q_decode, without.q_decode));
    EXPECT_TRUE(same_values(with.k_decode, without.k_decode));
    EXPECT_TRUE(same_values(with.v_decode, without.v_decode));
    EXPECT_EQ(with.needle_targets, without.needle_targets);
  }
}

TEST(Generator, DeterministicPerSeedWhateverTheThreadCount) {
  PointConfig point = small_point();
  point.phase = Phase::prefill;
  point.context_len = 777;
  setenv("UNISPARSE_THREADS", "1", 1);
  const Workload one_thread = generate_workload(point);
  setenv("UNISPARSE_THREADS", "7", 1);
  const Workload seven_threads = generate_workload(point);
  unsetenv("UNISPARSE_THREADS");
  const Workload again = generate_workload(point);
  EXPECT_TRUE(same_workload(one_thread, seven_threads));
  EXPECT_TRUE(same_workload(one_thread, again));
  point.seed += 1;
  EXPECT_FALSE(same_workload(one_thread, generate_workload(point)));
}

TEST(Generator, ValuesAreRepresentableInTheDType) {
  for (DType dtype : {DType::fp16, DType::bf16}) {
    PointConfig point = small_point();
    point.phase = Phase::prefill;
    point.context_len = 500;
    point.dtype = dtype;
    const Workload w = generate_workload(point);
    EXPECT_EQ(w.dtype, dtype);
    for (const Sequence& s : w.batch)
      for (const Tensor* t : {&s.q, &s.k, &s.v, &s.q_decode, &s.k_decode, &s.v_decode})
        for (float x : t->storage()) ASSERT_EQ(x, round_to_dtype(x, dtype)) << to_string(dtype);
  }
}

TEST(Generator, PlantedNeedleIsTheTopOfItsRetrievalHead) {
  PointConfig point = small_point();
  point.workload.knobs.jump_probability = 0.2;
  const Workload w = generate_workload(point);
  int seeking = 0;
  double needle_mass_sum = 0;
  for (int b = 0; b < w.batch_size(); ++b)
    for (int step = 0; step < w.decode_steps; ++step)
      for (int q_head = 0; q_head < 2; ++q_head) {
        const std::vector<int32_t>& needle = w.batch[b].needle_targets[step][q_head];
        if (needle.empty()) continue;
        ++seeking;
        EXPECT_EQ(static_cast<int>(needle.size()), point.workload.knobs.needle_tokens);
        const std::vector<double> p = decode_attention(w, b, q_head, step);
        const auto argmax = std::max_element(p.begin(), p.end()) - p.begin();
        EXPECT_NE(std::find(needle.begin(), needle.end(), argmax), needle.end())
            << "b " << b << " step " << step << " head " << q_head << " argmax " << argmax;
        double mass = 0;
        for (int32_t t : needle) mass += p[t];
        EXPECT_GT(mass, 0.3) << "b " << b << " step " << step << " head " << q_head;
        needle_mass_sum += mass;
      }
  EXPECT_GT(seeking, 10);  // most retrieval queries seek a needle
  std::printf("needle mass mean %.3f over %d queries\n", needle_mass_sum / seeking, seeking);
}

TEST(Generator, NeedlesSitAtTheirDepths) {
  PointConfig point = small_point();
  point.workload.knobs.needle_depths = {0.0, 0.5, 1.0};
  point.workload.knobs.jump_probability = 1.0;  // visit every needle
  point.decode_steps = 64;
  const Workload w = generate_workload(point);
  std::set<int32_t> starts;
  for (const auto& step : w.batch[0].needle_targets)
    for (const auto& tokens : step)
      if (!tokens.empty()) starts.insert(tokens.front());
  // Depth 0 lands after the sinks; depth 1 ends at the last prefill token.
  EXPECT_EQ(starts, (std::set<int32_t>{4, 1501, 3001 - 4}));  // round(0.5 * 3001) = 1501
}

TEST(Generator, StreamingHeadsPutMostMassOnSinkAndLocalTokens) {
  const PointConfig point = small_point();
  const Workload w = generate_workload(point);
  double lowest = 1;
  for (int b = 0; b < w.batch_size(); ++b)
    for (int step = 0; step < w.decode_steps; step += 3)
      for (int q_head = 2; q_head < 4; ++q_head) {
        const std::vector<double> p = decode_attention(w, b, q_head, step);
        const double sink = std::accumulate(p.begin(), p.begin() + point.sink_tokens, 0.0);
        const double local = std::accumulate(p.end() - point.local_tokens, p.end(), 0.0);
        EXPECT_GT(sink + local, 0.5) << "b " << b << " step " << step << " head " << q_head;
        lowest = std::min(lowest, sink + local);
      }
  std::printf("streaming sink + local share: lowest %.3f\n", lowest);
}

// Share of the mass of retrieval-head decode queries on the sink tokens, averaged.
double mean_sink_share(const Workload& w, int sinks) {
  double sum = 0;
  int count = 0;
  for (int step = 0; step < w.decode_steps; ++step)
    for (int q_head = 0; q_head < 2; ++q_head) {
      const std::vector<double> p = decode_attention(w, 0, q_head, step);
      sum += std::accumulate(p.begin(), p.begin() + sinks, 0.0);
      ++count;
    }
  return sum / count;
}

TEST(Generator, SinksTakeALargeShareInRetrievalHeads) {
  PointConfig point = small_point();
  point.workload.knobs.needle_depths.clear();  // queries seek topics: sinks compete with segments
  const int sinks = point.workload.knobs.num_sink_tokens;
  const double token_share = static_cast<double>(sinks) / point.context_len;
  // Default strength (a logit of 4): four sinks of 3000 tokens hold many times their token share.
  EXPECT_GT(mean_sink_share(generate_workload(point), sinks), 10 * token_share);
  // A logit of 7 against ~3000 diffuse tokens: the sinks hold a large share of the mass.
  point.workload.knobs.sink_strength = 7.0;
  EXPECT_GT(mean_sink_share(generate_workload(point), sinks), 0.25);
  // ... and still leave a needle of strength 10 on top.
  point.workload.knobs.needle_depths = {0.3};
  const Workload with_needle = generate_workload(point);
  for (int step = 0; step < with_needle.decode_steps; ++step) {
    const std::vector<int32_t>& needle = with_needle.batch[0].needle_targets[step][0];
    if (needle.empty()) continue;
    const std::vector<double> p = decode_attention(with_needle, 0, 0, step);
    const auto argmax = std::max_element(p.begin(), p.end()) - p.begin();
    EXPECT_NE(std::find(needle.begin(), needle.end(), argmax), needle.end()) << "step " << step;
  }
}

// Number of distinct 16-token pages among the top_k tokens of a distribution.
int pages_of_top_tokens(const std::vector<double>& p, int top_k) {
  std::vector<int> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + top_k, order.end(),
                    [&](int a, int b) { return p[a] > p[b]; });
  std::set<int> pages;
  for (int i = 0; i < top_k; ++i) pages.insert(order[i] / 16);
  return static_cast<int>(pages.size());
}

TEST(Generator, TopTokensClusterIntoFewPages) {
  PointConfig point = small_point();
  point.workload.knobs.needle_depths.clear();  // topic-seeking queries: mass follows segments
  PointConfig diffuse = point;
  GeneratorKnobs& k = diffuse.workload.knobs;
  k.sink_strength = k.recency_strength = k.topic_strength = 0;
  k.streaming_sink_strength = k.streaming_local_strength = 0;
  const Workload structured = generate_workload(point);
  const Workload control = generate_workload(diffuse);
  constexpr int kTop = 128;
  double structured_pages = 0, control_pages = 0;
  int count = 0;
  for (int step = 0; step < point.decode_steps; step += 2)
    for (int q_head = 0; q_head < 4; ++q_head) {
      structured_pages += pages_of_top_tokens(decode_attention(structured, 1, q_head, step), kTop);
      control_pages += pages_of_top_tokens(decode_attention(control, 1, q_head, step), kTop);
      ++count;
    }
  structured_pages /= count;
  control_pages /= count;
  std::printf("pages of the top %d tokens: structured %.1f, diffuse %.1f\n", kTop,
              structured_pages, control_pages);
  EXPECT_GT(control_pages, 80);  // 128 random tokens of 188 pages touch ~93 of them
  EXPECT_LT(structured_pages, 0.5 * control_pages);
}

TEST(Generator, ConsecutiveDecodeQueriesAreSimilarWithOccasionalJumps) {
  PointConfig point = small_point();
  point.context_len = 600;
  point.decode_steps = 200;
  const Workload w = generate_workload(point);
  const int d = point.shape.head_dim;
  std::vector<double> cosines;
  for (int q_head = 0; q_head < 4; ++q_head)
    for (int step = 1; step < point.decode_steps; ++step)
      cosines.push_back(cosine(w.batch[0].q_decode.row({step - 1, q_head}),
                               w.batch[0].q_decode.row({step, q_head}), d));
  std::vector<double> sorted = cosines;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  const auto jumps = std::count_if(cosines.begin(), cosines.end(), [](double c) { return c < 0.6; });
  std::printf("consecutive query cosine: median %.3f, %ld of %zu below 0.6\n", median,
              static_cast<long>(jumps), cosines.size());
  EXPECT_GT(median, 0.9);
  EXPECT_GT(sorted[sorted.size() / 5], 0.8);  // at least 80% above 0.8
  // jump_probability 0.05 over 796 steps: about 40 jumps; retrieval-head jumps change the target.
  EXPECT_GE(jumps, 8);
  EXPECT_LE(jumps, 80);
}

TEST(Generator, InvalidKnobsAreInputErrors) {
  PointConfig point = small_point();
  point.workload.name = "needle";
  point.workload.knobs.needle_depths = {0.5, 1.5};
  try {
    generate_workload(point);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("needle_depths"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("needle"), std::string::npos) << e.what();
  }
  point = small_point();
  point.workload.knobs.recency_scale = 0;
  EXPECT_THROW(generate_workload(point), InputError);
  point = small_point();
  point.shape = {3, 2, 64};
  EXPECT_THROW(generate_workload(point), InputError);
}

// Mean share of the retrieval-head decode queries' mass on the needle tokens they seek.
double mean_needle_mass(const Workload& w) {
  double sum = 0;
  int rows = 0;
  for (int b = 0; b < w.batch_size(); ++b)
    for (int step = 0; step < w.decode_steps; ++step)
      for (int q_head = 0; q_head < 2; ++q_head) {
        const std::vector<int32_t>& needle = w.batch[b].needle_targets[step][q_head];
        if (needle.empty()) continue;
        const std::vector<double> p = decode_attention(w, b, q_head, step);
        for (int32_t t : needle) sum += p[t];
        ++rows;
      }
  return rows > 0 ? sum / rows : 0.0;
}

TEST(Generator, ReferenceContextKeepsTheNeedleShareAtLongerContexts) {
  PointConfig point = small_point();
  point.batch = 1;
  point.decode_steps = 8;
  point.workload.knobs.needle_strength = 6.0;  // a share well below 1, so dilution shows
  point.context_len = 3000;
  const double short_share = mean_needle_mass(generate_workload(point));
  point.context_len = 24000;
  const double long_literal = mean_needle_mass(generate_workload(point));
  point.workload.knobs.strength_reference_context = 3000;
  const double long_scaled = mean_needle_mass(generate_workload(point));
  // Literal logits: eight times the tokens dilute the needle about tenfold. Scaled, most of the
  // share comes back (not all: content directions are random, so a stronger needle query also
  // lifts the many topic tokens whose direction leans its way).
  EXPECT_LT(long_literal, 0.2 * short_share);
  EXPECT_GT(long_scaled, 4 * long_literal);
  EXPECT_GT(long_scaled, 0.4 * short_share);
  std::printf("needle share: T=3000 %.3f, T=24000 literal %.3f, scaled %.3f\n", short_share,
              long_literal, long_scaled);
}

}  // namespace
}  // namespace unisparse
