#include "framework/sparse/page_selector.h"

#include <algorithm>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "framework/core/parallel.h"
#include "framework/sparse/cpu_attention.h"
#include "framework/sparse/oracle_pages.h"
#include "framework/sparse/page_scores.h"
#include "framework/sparse/top_pages.h"

namespace unisparse {

namespace {

void check_selection_config(const PageGeometry& geometry, const SelectionPolicy& policy) {
  const auto fail = [](const std::string& message) {
    throw std::invalid_argument("PageSelector: " + message);
  };
  if (geometry.physical_page_size <= 0 || geometry.logical_page_size <= 0 ||
      geometry.physical_page_size % geometry.logical_page_size != 0)
    fail("logical page size " + std::to_string(geometry.logical_page_size) +
         " must divide physical page size " + std::to_string(geometry.physical_page_size));
  if (policy.token_budget <= 0 || policy.token_budget % geometry.physical_page_size != 0)
    fail("token budget " + std::to_string(policy.token_budget) +
         " must be a positive multiple of the page size " +
         std::to_string(geometry.physical_page_size));
  if (policy.reuse_interval < 1)
    fail("reuse interval " + std::to_string(policy.reuse_interval) + " must be >= 1");
}

// Combines one query head's physical-page scores into its group's (kv_head_max, kv_head_sum).
template <class Score>
void combine_into(std::vector<Score>& group_scores, std::vector<Score>&& scores, GqaSelection mode) {
  if (group_scores.empty()) {
    group_scores = std::move(scores);
    return;
  }
  for (size_t p = 0; p < group_scores.size(); ++p)
    group_scores[p] = mode == GqaSelection::kv_head_max ? std::max(group_scores[p], scores[p])
                                                        : group_scores[p] + scores[p];
}

}  // namespace

PageSelector::PageSelector(const ModelShape& shape, PageGeometry geometry, SelectionPolicy policy,
                           int batch, std::vector<bool> selected_kv_heads, PageSelectorKind kind)
    : shape_(shape),
      geometry_(geometry),
      policy_(policy),
      batch_(batch),
      kind_(kind),
      pages_per_selection_(0),
      selected_kv_heads_(std::move(selected_kv_heads)),
      cached_(static_cast<size_t>(batch) * shape.num_q_heads) {
  check_selection_config(geometry, policy);
  pages_per_selection_ = policy.token_budget / geometry.physical_page_size;
  if (selected_kv_heads_.empty()) selected_kv_heads_.assign(shape.num_kv_heads, true);
  if (static_cast<int>(selected_kv_heads_.size()) != shape.num_kv_heads)
    throw std::invalid_argument("PageSelector: selected_kv_heads has " +
                                std::to_string(selected_kv_heads_.size()) + " entries for " +
                                std::to_string(shape.num_kv_heads) + " KV heads");
}

void PageSelector::run_selector(int num_tokens, int step, const KeyStatsSet* stats,
                                const Workload& workload) {
  if (kind_ == PageSelectorKind::quest && stats == nullptr)
    throw std::logic_error("PageSelector: Quest scores need key statistics");
  const int group_size = shape_.group_size();
  const int num_pages = static_cast<int>(ceil_div(num_tokens, geometry_.physical_page_size));
  const int k = pages_per_selection_;
  const std::vector<TokenRange> context{{0, num_tokens}};
  // One task per (sequence, KV head): its query heads' scores are combined in GQA-shared modes.
  parallel_for(int64_t{batch_} * shape_.num_kv_heads, [&](int64_t task) {
    const int b = static_cast<int>(task / shape_.num_kv_heads);
    const int kv_head = static_cast<int>(task % shape_.num_kv_heads);
    if (!selected_kv_heads_[kv_head]) return;
    const auto head_dim = static_cast<size_t>(shape_.head_dim);
    const int first_q_head = kv_head * group_size;
    // Quest bounds are fp32 (the GPU selector's arithmetic), oracle masses fp64.
    std::vector<float> group_bounds;   // [num_pages] combined over the group
    std::vector<double> group_masses;  // [num_pages] combined over the group
    for (int h = first_q_head; h < first_q_head + group_size; ++h) {
      const std::span<const float> query{workload.batch[b].q_decode.row({step, h}), head_dim};
      const size_t row = static_cast<size_t>(b) * shape_.num_q_heads + h;
      if (kind_ == PageSelectorKind::quest) {
        std::vector<float> bounds = physical_page_scores(query, stats->at(b, kv_head), geometry_);
        if (policy_.gqa_selection == GqaSelection::per_query_head)
          cached_[row] = top_scored_pages(bounds, num_pages, k);
        else
          combine_into(group_bounds, std::move(bounds), policy_.gqa_selection);
      } else {
        std::vector<double> masses = page_masses(
            attention_weights(query, context, workload, b, kv_head), geometry_.physical_page_size);
        if (policy_.gqa_selection == GqaSelection::per_query_head)
          cached_[row] = top_scored_pages(masses, num_pages, k);
        else
          combine_into(group_masses, std::move(masses), policy_.gqa_selection);
      }
    }
    if (policy_.gqa_selection == GqaSelection::per_query_head) return;
    const std::vector<int32_t> shared = kind_ == PageSelectorKind::quest
                                            ? top_scored_pages(group_bounds, num_pages, k)
                                            : top_scored_pages(group_masses, num_pages, k);
    for (int h = first_q_head; h < first_q_head + group_size; ++h)
      cached_[static_cast<size_t>(b) * shape_.num_q_heads + h] = shared;
  });
  has_selection_ = true;
}

Csr PageSelector::select(int step, int num_tokens, const KeyStatsSet* stats,
                         const Workload& workload) {
  if (stats != nullptr && stats->num_tokens() != num_tokens)
    throw std::logic_error("PageSelector: statistics hold " + std::to_string(stats->num_tokens()) +
                           " tokens, step " + std::to_string(step) + " attends " +
                           std::to_string(num_tokens));
  if (step % policy_.reuse_interval == 0)
    run_selector(num_tokens, step, stats, workload);
  else if (!has_selection_)
    throw std::logic_error("PageSelector: step " + std::to_string(step) +
                           " reuses a selection, but no selector step ran before it");

  const int num_pages = static_cast<int>(ceil_div(num_tokens, geometry_.physical_page_size));
  const int last_page = num_pages - 1;
  std::vector<int32_t> every_page(num_pages);
  std::iota(every_page.begin(), every_page.end(), 0);
  Csr selection;
  std::vector<int32_t> row_pages;
  for (int b = 0; b < batch_; ++b)
    for (int h = 0; h < shape_.num_q_heads; ++h) {
      if (!selected_kv_heads_[shape_.kv_head_of(h)]) {
        selection.append_row({});
      } else if (num_pages <= pages_per_selection_) {
        selection.append_row(every_page);
      } else {
        // Cached pages all precede the page that was last at the selector step, hence last_page.
        row_pages = cached_[static_cast<size_t>(b) * shape_.num_q_heads + h];
        row_pages.push_back(last_page);
        selection.append_row(row_pages);
      }
    }
  return selection;
}

DecodeSelections select_all_steps(const Workload& workload, const DecodePlan& plan) {
  std::optional<KeyStatsSet> stats;  // Quest only: the oracle reads the keys themselves
  if (plan.selector == PageSelectorKind::quest)
    stats.emplace(workload, plan.geometry.logical_page_size);
  PageSelector selector(workload.shape, plan.geometry, plan.policy, workload.batch_size(), {},
                        plan.selector);
  DecodeSelections selections;
  selections.reserve(workload.decode_steps);
  for (int step = 0; step < workload.decode_steps; ++step) {
    if (stats) stats->append_decode_token(workload, step);
    selections.push_back(selector.select(step, workload.tokens_at_step(step),
                                         stats ? &*stats : nullptr, workload));
  }
  return selections;
}

}  // namespace unisparse
