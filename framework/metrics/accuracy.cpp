#include "framework/metrics/accuracy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "framework/core/parallel.h"
#include "framework/metrics/error_summary.h"
#include "framework/reference/dense_attention.h"
#include "framework/reference/query_sample.h"
#include "framework/sparse/oracle_pages.h"

namespace unisparse {
namespace {

constexpr double kNotApplicable = std::numeric_limits<double>::quiet_NaN();

// The metrics of one row; NaN / kNoNeedle where a metric does not apply to it.
struct RowAccuracy {
  double rel_l2 = kNotApplicable;
  double attn_recall = kNotApplicable;
  double page_recall = kNotApplicable;
  int needle_hit = kNoNeedle;  // 1 hit, 0 missed
  static constexpr int kNoNeedle = -1;
};

void require(bool condition, const std::string& message) {
  if (!condition) throw std::invalid_argument(message);
}

void require_shape(const Tensor& tensor, const std::vector<int64_t>& shape,
                   const std::string& what) {
  require(tensor.shape() == shape, what + " does not have the workload's shape");
}

bool contains(const std::vector<TokenRange>& ranges, int token) {
  // Ranges are ascending and disjoint: only the last range that begins at or before token can
  // hold it.
  auto after = std::upper_bound(ranges.begin(), ranges.end(), token,
                                [](int t, const TokenRange& r) { return t < r.begin; });
  return after != ranges.begin() && token < std::prev(after)->end;
}

// |selected ∩ oracle| / |oracle|, oracle = oracle_pages() for a budget of selected.size() pages.
// NaN when nothing is selected.
double page_recall(std::span<const double> probabilities, std::span<const int32_t> selected,
                   int physical_page_size) {
  if (selected.empty()) return kNotApplicable;
  const std::vector<int32_t> oracle =
      oracle_pages(probabilities, physical_page_size, static_cast<int>(selected.size()));
  if (oracle.empty()) return kNotApplicable;
  const int num_pages = static_cast<int>(ceil_div(probabilities.size(), physical_page_size));
  std::vector<bool> is_selected(num_pages, false);
  for (int32_t page : selected)
    if (page >= 0 && page < num_pages) is_selected[page] = true;
  int overlap = 0;
  for (int32_t page : oracle) overlap += is_selected[page] ? 1 : 0;
  return static_cast<double>(overlap) / static_cast<double>(oracle.size());
}

// The needle tokens row (step, q_head) seeks, or nullptr: planted targets (synthetic), else a
// trace's needle when the reference puts at least `threshold` of the row's mass on it.
const std::vector<int32_t>* needle_targets(const Sequence& sequence, int step, int q_head,
                                           std::span<const double> probabilities,
                                           double threshold) {
  if (step < static_cast<int>(sequence.needle_targets.size())) {
    const auto& per_head = sequence.needle_targets[step];
    if (q_head < static_cast<int>(per_head.size()) && !per_head[q_head].empty())
      return &per_head[q_head];
  }
  if (sequence.needle_tokens.empty()) return nullptr;
  double needle_mass = 0.0;
  for (int32_t token : sequence.needle_tokens) needle_mass += probabilities[token];
  return needle_mass >= threshold ? &sequence.needle_tokens : nullptr;
}

double mean_of_applicable(const std::vector<RowAccuracy>& rows, double RowAccuracy::*metric) {
  double sum = 0.0;
  int64_t count = 0;
  for (const RowAccuracy& row : rows)
    if (!std::isnan(row.*metric)) {
      sum += row.*metric;
      ++count;
    }
  return count > 0 ? sum / static_cast<double>(count) : kNotApplicable;
}

Accuracy summarize(const std::vector<RowAccuracy>& rows) {
  std::vector<double> errors;
  errors.reserve(rows.size());
  int64_t needle_rows = 0, needle_hits = 0;
  for (const RowAccuracy& row : rows) {
    errors.push_back(row.rel_l2);
    if (row.needle_hit != RowAccuracy::kNoNeedle) {
      ++needle_rows;
      needle_hits += row.needle_hit;
    }
  }
  const ErrorSummary error = summarize_errors(errors);
  Accuracy accuracy;
  accuracy.out_rel_l2_mean = error.mean;
  accuracy.out_rel_l2_p99 = error.p99;
  accuracy.out_rel_l2_max = error.max;
  accuracy.attn_recall = mean_of_applicable(rows, &RowAccuracy::attn_recall);
  accuracy.page_recall = mean_of_applicable(rows, &RowAccuracy::page_recall);
  accuracy.needle_hit =
      needle_rows > 0 ? static_cast<double>(needle_hits) / needle_rows : kNotApplicable;
  accuracy.rows = static_cast<int64_t>(rows.size());
  return accuracy;
}

}  // namespace

double mass_inside(std::span<const double> probabilities, std::span<const TokenRange> ranges) {
  double mass = 0.0;
  for (const TokenRange& range : ranges)
    for (int token = range.begin; token < range.end; ++token) mass += probabilities[token];
  return mass;
}

Accuracy evaluate_decode(const Workload& workload, const DecodePlan& plan, const DecodeRun& run,
                         int reference_batches, const DecodeReference* reference,
                         double needle_mass_threshold) {
  const ModelShape& shape = workload.shape;
  const int num_q_heads = shape.num_q_heads;
  const int steps = workload.decode_steps;
  const int batches = std::clamp(reference_batches, 0, workload.batch_size());
  require(static_cast<int>(run.out.size()) >= batches, "evaluate_decode: missing sequence outputs");
  for (int b = 0; b < batches; ++b) {
    require_shape(workload.batch[b].q_decode, {steps, num_q_heads, shape.head_dim},
                  "evaluate_decode: the decode queries");
    require_shape(run.out[b], {steps, num_q_heads, shape.head_dim}, "evaluate_decode: the output");
  }
  if (reference && reference->batches() < batches) reference = nullptr;
  const bool has_selections = !run.selections.empty();
  if (has_selections) {
    require(static_cast<int>(run.selections.size()) == steps,
            "evaluate_decode: selections do not cover every decode step");
    for (const Csr& step_selection : run.selections)
      require(step_selection.rows() == workload.batch_size() * num_q_heads,
              "evaluate_decode: selections need one row per (sequence, query head)");
  }

  std::vector<RowAccuracy> rows(static_cast<size_t>(batches) * steps * num_q_heads);
  parallel_for(static_cast<int64_t>(rows.size()), [&](int64_t index) {
    const int q_head = static_cast<int>(index % num_q_heads);
    const int step = static_cast<int>(index / num_q_heads % steps);
    const int b = static_cast<int>(index / (int64_t{num_q_heads} * steps));
    std::vector<double> computed_probabilities, computed_out;
    std::span<const double> probabilities, reference_out;
    if (reference) {
      probabilities = reference->probabilities(b, step, q_head);
      reference_out = reference->output(b, step, q_head);
    } else {
      reference_decode_row(workload, b, step, q_head, computed_probabilities, computed_out);
      probabilities = computed_probabilities;
      reference_out = computed_out;
    }

    RowAccuracy& row = rows[index];
    const float* out = run.out[b].row({step, q_head});
    row.rel_l2 = relative_l2({out, static_cast<size_t>(shape.head_dim)}, reference_out);
    if (!has_selections) return;

    const bool streaming_head =
        uses_streaming_heads(plan.mode) && plan.heads.is_streaming(shape.kv_head_of(q_head));
    const std::span<const int32_t> pages = run.selections[step].row(b * num_q_heads + q_head);
    const std::vector<TokenRange> ranges =
        attended_ranges(streaming_head, plan.heads.sink_tokens, plan.heads.local_tokens,
                        plan.geometry.physical_page_size, pages, workload.tokens_at_step(step));
    row.attn_recall = mass_inside(probabilities, ranges);
    if (!streaming_head && uses_page_selection(plan.mode))
      row.page_recall = page_recall(probabilities, pages, plan.geometry.physical_page_size);
    if (const auto* targets = needle_targets(workload.batch[b], step, q_head, probabilities,
                                             needle_mass_threshold))
      row.needle_hit = std::all_of(targets->begin(), targets->end(),
                                   [&](int32_t token) { return contains(ranges, token); });
  });
  return summarize(rows);
}

Accuracy evaluate_prefill(const Workload& workload, const PrefillPlan& plan, const PrefillRun& run,
                          int reference_rows, uint64_t seed, int reference_batches) {
  const ModelShape& shape = workload.shape;
  const int num_q_heads = shape.num_q_heads;
  const int context_len = workload.context_len;
  const int batches = std::clamp(reference_batches, 0, workload.batch_size());
  require(static_cast<int>(run.out.size()) >= batches,
          "evaluate_prefill: missing sequence outputs");
  for (int b = 0; b < batches; ++b) {
    require_shape(workload.batch[b].q, {num_q_heads, context_len, shape.head_dim},
                  "evaluate_prefill: the prefill queries");
    require_shape(run.out[b], {num_q_heads, context_len, shape.head_dim},
                  "evaluate_prefill: the output");
  }
  require(static_cast<int>(plan.head_mode.size()) == num_q_heads,
          "evaluate_prefill: the plan needs one mode per query head");
  const int num_q_blocks = static_cast<int>(ceil_div(context_len, plan.block_size));
  const bool any_block_list = std::ranges::any_of(
      plan.head_mode, [](PrefillHeadMode mode) { return mode == PrefillHeadMode::block_list; });
  require(!any_block_list || plan.blocks.rows() == num_q_heads * num_q_blocks,
          "evaluate_prefill: block_list heads need one block row per (query head, query block)");

  const std::vector<int32_t> queries = sample_query_rows(context_len, reference_rows, seed);
  const int64_t num_queries = static_cast<int64_t>(queries.size());
  std::vector<RowAccuracy> rows(static_cast<size_t>(batches * num_q_heads * num_queries));
  parallel_for(static_cast<int64_t>(rows.size()), [&](int64_t index) {
    const int query = queries[index % num_queries];
    const int q_head = static_cast<int>(index / num_queries % num_q_heads);
    const int b = static_cast<int>(index / (num_queries * num_q_heads));
    std::vector<double> probabilities, reference_out;
    reference_prefill_row(workload, b, q_head, query, probabilities, reference_out);

    RowAccuracy& row = rows[index];
    const float* out = run.out[b].row({q_head, query});
    row.rel_l2 = relative_l2({out, static_cast<size_t>(shape.head_dim)}, reference_out);

    const PrefillHeadMode mode = plan.head_mode[q_head];
    double mass = 0.0;
    if (mode == PrefillHeadMode::block_list) {
      const int block_row = q_head * num_q_blocks + query / plan.block_size;
      for (int32_t block : plan.blocks.row(block_row)) {
        const int end = std::min((block + 1) * plan.block_size, query + 1);
        for (int key = block * plan.block_size; key < end; ++key)
          if (plan.visible(mode, query, key)) mass += probabilities[key];
      }
    } else {
      for (int key = 0; key <= query; ++key)
        if (plan.visible(mode, query, key)) mass += probabilities[key];
    }
    row.attn_recall = mass;
  });
  return summarize(rows);
}

}  // namespace unisparse
