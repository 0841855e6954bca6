#include "framework/metrics/attention_stats.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <string>

#include "framework/core/error.h"
#include "framework/core/parallel.h"
#include "framework/core/types.h"
#include "framework/reference/decode_reference.h"
#include "framework/sparse/oracle_pages.h"
#include "framework/sparse/top_pages.h"

namespace unisparse {
namespace {

constexpr double kNotApplicable = std::numeric_limits<double>::quiet_NaN();

// Settings are named as the options of `unisparse attention-stats` that set them.
void fail(const std::string& option, const std::string& message) {
  throw input_error("<command line>", 0, option, message);
}

double mass_of_range(std::span<const double> weights, int64_t begin, int64_t end) {
  begin = std::clamp<int64_t>(begin, 0, static_cast<int64_t>(weights.size()));
  end = std::clamp<int64_t>(end, begin, static_cast<int64_t>(weights.size()));
  double mass = 0;
  for (int64_t t = begin; t < end; ++t) mass += weights[t];
  return mass;
}

// Mass on [0, sink) ∪ [n - local, n), each token once.
double window_mass(std::span<const double> weights, int sink, int local) {
  const auto n = static_cast<int64_t>(weights.size());
  const int64_t local_begin = std::max<int64_t>(sink, n - local);
  return mass_of_range(weights, 0, sink) + mass_of_range(weights, local_begin, n);
}

// The weights in descending order, summed as a prefix: top[i] = mass of the i + 1 heaviest tokens.
std::vector<double> descending_prefix_mass(std::span<const double> weights) {
  std::vector<double> sorted(weights.begin(), weights.end());
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  for (size_t i = 1; i < sorted.size(); ++i) sorted[i] += sorted[i - 1];
  return sorted;
}

double mass_of_top(const std::vector<double>& prefix, int64_t count) {
  if (count < 1 || prefix.empty()) return 0;
  return prefix[std::min<int64_t>(count, static_cast<int64_t>(prefix.size())) - 1];
}

double mass_of_pages(std::span<const double> page_mass, std::span<const int32_t> pages) {
  double mass = 0;
  for (int32_t page : pages) mass += page_mass[page];
  return mass;
}

// One decode row's values before averaging over steps.
struct RowStats {
  std::vector<double> sink_mass, sink_local_mass, top_mass, page_efficiency;
  double local_mass = 0, budget_mass = 0, needle_mass = 0;
  std::vector<double> overlap_page_mass;     // [pages at overlap_page_size]
  std::vector<int32_t> overlap_oracle;       // O_s, ascending
  std::vector<int32_t> overlap_scored;       // the oracle's top k - 1 scored pages (reuse cache)
};

RowStats row_stats(std::span<const double> weights, const AttentionStatsSettings& settings,
                   const std::vector<int32_t>& needle_tokens) {
  RowStats row;
  const auto n = static_cast<int64_t>(weights.size());
  for (int sink : settings.sink_tokens) {
    row.sink_mass.push_back(mass_of_range(weights, 0, sink));
    row.sink_local_mass.push_back(window_mass(weights, sink, settings.local_tokens));
  }
  row.local_mass = mass_of_range(weights, n - settings.local_tokens, n);
  const std::vector<double> prefix = descending_prefix_mass(weights);
  for (double fraction : settings.top_fractions)
    row.top_mass.push_back(mass_of_top(prefix, static_cast<int64_t>(std::ceil(fraction * n))));
  row.budget_mass = mass_of_top(prefix, settings.token_budget);
  for (int page_size : settings.page_sizes) {
    const std::vector<double> page_mass = page_masses(weights, page_size);
    const std::vector<int32_t> pages =
        oracle_pages(weights, page_size, settings.token_budget / page_size);
    row.page_efficiency.push_back(row.budget_mass > 0 ? mass_of_pages(page_mass, pages) / row.budget_mass
                                                      : kNotApplicable);
  }
  const int overlap_k = settings.token_budget / settings.overlap_page_size;
  row.overlap_page_mass = page_masses(weights, settings.overlap_page_size);
  row.overlap_oracle = oracle_pages(weights, settings.overlap_page_size, overlap_k);
  row.overlap_scored = top_scored_pages(std::span<const double>(row.overlap_page_mass),
                                        static_cast<int>(row.overlap_page_mass.size()), overlap_k);
  if (needle_tokens.empty()) {
    row.needle_mass = kNotApplicable;
  } else {
    for (int32_t token : needle_tokens)
      if (token < n) row.needle_mass += weights[token];
  }
  return row;
}

// The sequence's needle tokens: a trace's needle positions, else every planted target.
std::vector<int32_t> needle_tokens_of(const Sequence& sequence) {
  if (!sequence.needle_tokens.empty()) return sequence.needle_tokens;
  std::set<int32_t> planted;
  for (const auto& step : sequence.needle_targets)
    for (const auto& head : step) planted.insert(head.begin(), head.end());
  return {planted.begin(), planted.end()};
}

size_t intersection_size(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t common = 0;
  for (auto i = a.begin(), j = b.begin(); i != a.end() && j != b.end();) {
    if (*i < *j) {
      ++i;
    } else if (*j < *i) {
      ++j;
    } else {
      ++common, ++i, ++j;
    }
  }
  return common;
}

// Mass of `now` inside the pages a selection made at `then` attends at `now`'s step: then's
// cached scored pages plus now's last page.
double reused_mass(const RowStats& then, const RowStats& now) {
  std::vector<int32_t> attended = then.overlap_scored;
  attended.push_back(static_cast<int32_t>(now.overlap_page_mass.size()) - 1);
  std::sort(attended.begin(), attended.end());
  attended.erase(std::unique(attended.begin(), attended.end()), attended.end());
  double mass = 0;
  for (int32_t page : attended)
    if (page < static_cast<int32_t>(now.overlap_page_mass.size())) mass += now.overlap_page_mass[page];
  return mass;
}

void add_scaled(std::vector<double>& sum, const std::vector<double>& values, double scale) {
  sum.resize(values.size(), 0.0);
  for (size_t i = 0; i < values.size(); ++i) sum[i] += scale * values[i];
}

HeadAttentionStats head_stats(const Workload& workload, const std::vector<RowStats>& rows,
                              int q_head, const AttentionStatsSettings& settings) {
  HeadAttentionStats head;
  head.q_head = q_head;
  head.kv_head = workload.shape.kv_head_of(q_head);
  const int steps = workload.decode_steps;
  const double per_step = 1.0 / steps;
  auto row = [&](int step) -> const RowStats& { return rows[int64_t{step} * workload.shape.num_q_heads + q_head]; };
  for (int step = 0; step < steps; ++step) {
    const RowStats& r = row(step);
    add_scaled(head.sink_mass, r.sink_mass, per_step);
    add_scaled(head.sink_local_mass, r.sink_local_mass, per_step);
    add_scaled(head.top_mass, r.top_mass, per_step);
    add_scaled(head.page_efficiency, r.page_efficiency, per_step);
    head.local_mass += per_step * r.local_mass;
    head.budget_mass += per_step * r.budget_mass;
    head.needle_mass += per_step * r.needle_mass;
    head.needle_mass_peak = step == 0 ? r.needle_mass : std::max(head.needle_mass_peak, r.needle_mass);
  }
  for (int lag : settings.overlap_lags) {
    double overlap = 0, retention = 0;
    int pairs = 0;
    for (int step = lag; step < steps; ++step) {
      const RowStats& now = row(step);
      const RowStats& then = row(step - lag);
      overlap += static_cast<double>(intersection_size(now.overlap_oracle, then.overlap_oracle)) /
                 static_cast<double>(now.overlap_oracle.size());
      const double best = mass_of_pages(now.overlap_page_mass, now.overlap_oracle);
      retention += best > 0 ? reused_mass(then, now) / best : 1.0;
      ++pairs;
    }
    head.oracle_overlap.push_back(pairs > 0 ? overlap / pairs : kNotApplicable);
    head.reuse_retention.push_back(pairs > 0 ? retention / pairs : kNotApplicable);
  }
  return head;
}

}  // namespace

void check_attention_stats_settings(const AttentionStatsSettings& settings) {
  if (settings.sink_tokens.empty()) fail("--sink-tokens", "needs at least one value");
  for (int sink : settings.sink_tokens)
    if (sink < 0) fail("--sink-tokens", "every value must be >= 0, got " + std::to_string(sink));
  if (settings.local_tokens < 1) fail("--local-tokens", "must be >= 1");
  if (settings.top_fractions.empty()) fail("--top-fractions", "needs at least one value");
  for (double fraction : settings.top_fractions)
    if (!(fraction > 0 && fraction <= 1))
      fail("--top-fractions", "every value must lie in (0, 1], got " + std::to_string(fraction));
  if (settings.token_budget < 1) fail("--token-budget", "must be >= 1");
  if (settings.page_sizes.empty()) fail("--page-sizes", "needs at least one value");
  for (int page_size : settings.page_sizes) {
    if (page_size < 1) fail("--page-sizes", "every value must be >= 1");
    if (settings.token_budget % page_size != 0)
      fail("--token-budget", std::to_string(settings.token_budget) +
                                 " is not a multiple of page size " + std::to_string(page_size));
  }
  if (settings.overlap_page_size < 1) fail("--overlap-page-size", "must be >= 1");
  if (settings.token_budget % settings.overlap_page_size != 0)
    fail("--token-budget", std::to_string(settings.token_budget) +
                               " is not a multiple of --overlap-page-size " +
                               std::to_string(settings.overlap_page_size));
  if (settings.overlap_lags.empty()) fail("--overlap-lags", "needs at least one value");
  for (int lag : settings.overlap_lags)
    if (lag < 1) fail("--overlap-lags", "every value must be >= 1, got " + std::to_string(lag));
}

std::vector<HeadAttentionStats> attention_stats(const Workload& workload,
                                                const AttentionStatsSettings& settings) {
  check_attention_stats_settings(settings);
  if (workload.decode_steps < 1 || workload.batch.empty())
    throw input_error(workload.name, 0, "decode_steps", "attention statistics need decode steps");
  const DecodeReference reference(workload, 1);
  const int num_q_heads = workload.shape.num_q_heads;
  const std::vector<int32_t> needles = needle_tokens_of(workload.batch[0]);
  std::vector<RowStats> rows(static_cast<size_t>(workload.decode_steps) * num_q_heads);
  parallel_for(static_cast<int64_t>(rows.size()), [&](int64_t index) {
    const int step = static_cast<int>(index / num_q_heads);
    const int q_head = static_cast<int>(index % num_q_heads);
    rows[index] = row_stats(reference.probabilities(0, step, q_head), settings, needles);
  });
  std::vector<HeadAttentionStats> heads;
  for (int q_head = 0; q_head < num_q_heads; ++q_head)
    heads.push_back(head_stats(workload, rows, q_head, settings));
  return heads;
}

}  // namespace unisparse
