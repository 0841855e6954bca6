// Key statistics, Quest page scores, the top-k rule, whole-decode page selection and streaming
// windows.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "arrays.h"
#include "bindings.h"
#include "framework/sparse/key_stats.h"
#include "framework/sparse/page_scores.h"
#include "framework/sparse/page_selector.h"
#include "framework/sparse/top_pages.h"
#include "plan_args.h"
#include "workload_arrays.h"

namespace unisparse::python {

namespace {

KeyStats stats_of(const FloatIn& keys, int logical_page_size) {
  require_shape(keys, "keys", {-1, -1});
  const auto head_dim = static_cast<size_t>(keys.shape(1));
  KeyStats stats(static_cast<int>(head_dim), logical_page_size);
  for (size_t t = 0; t < keys.shape(0); ++t) stats.append({keys.data() + t * head_dim, head_dim});
  return stats;
}

nb::tuple key_statistics(const FloatIn& keys, int logical_page_size) {
  const KeyStats stats = stats_of(keys, logical_page_size);
  const auto pages = static_cast<size_t>(stats.num_logical_pages());
  const auto head_dim = static_cast<size_t>(stats.head_dim());
  std::vector<float> kmax, kmin;
  for (int page = 0; page < stats.num_logical_pages(); ++page) {
    kmax.insert(kmax.end(), stats.kmax(page).begin(), stats.kmax(page).end());
    kmin.insert(kmin.end(), stats.kmin(page).begin(), stats.kmin(page).end());
  }
  return nb::make_tuple(to_numpy(std::move(kmax), {pages, head_dim}),
                        to_numpy(std::move(kmin), {pages, head_dim}));
}

NumpyOut<float> page_scores(const FloatIn& query, const FloatIn& keys, int page_size,
                            int logical_page_size) {
  const KeyStats stats = stats_of(keys, logical_page_size);
  require_shape(query, "query", {stats.head_dim()});
  if (page_size <= 0 || logical_page_size <= 0 || page_size % logical_page_size)
    throw std::invalid_argument("logical_page_size must divide page_size");
  std::vector<float> scores = physical_page_scores(span_of(query), stats, {page_size, logical_page_size});
  const size_t pages = scores.size();
  return to_numpy(std::move(scores), {pages});
}

template <class Scores>
NumpyOut<int32_t> pages_of(const Scores& scores, int num_pages, int k, bool scored_only) {
  require_shape(scores, "scores", {-1});
  if (k < 1) throw std::invalid_argument("k must be >= 1");
  if (num_pages < 1 || static_cast<int64_t>(scores.size()) < num_pages - 1)
    throw std::invalid_argument("scores must hold at least num_pages - 1 values, num_pages >= 1");
  std::vector<int32_t> pages = scored_only ? top_scored_pages(span_of(scores), num_pages, k)
                                           : top_pages(span_of(scores), num_pages, k);
  const size_t count = pages.size();
  return to_numpy(std::move(pages), {count});
}

nb::list select_pages(const FloatIn& keys, const FloatIn& q_decode, const FloatIn& k_decode,
                      int page_size, int logical_page_size, int token_budget, int reuse_interval,
                      const std::string& gqa_selection, const std::string& selector) {
  require_shape(q_decode, "q_decode", {-1, -1, -1});
  const int num_q_heads = static_cast<int>(q_decode.shape(1));
  // Selection reads keys only: the keys stand in for the values the workload also holds.
  const Workload workload =
      workload_from_arrays(num_q_heads, keys, keys, std::nullopt, q_decode, k_decode, k_decode);
  PlanArgs args;
  args.mode = "dynamic";
  args.page_size = page_size;
  args.logical_page_size = logical_page_size;
  args.token_budget = token_budget;
  args.reuse_interval = reuse_interval;
  args.gqa_selection = gqa_selection;
  args.selector = selector;
  const DecodePlan plan = make_plan(args, workload.shape.num_kv_heads);
  DecodeSelections selections;
  {
    nb::gil_scoped_release unlocked;
    selections = select_all_steps(workload, plan);
  }
  nb::list steps;
  for (const Csr& step : selections) steps.append(csr_to_numpy(step));
  return steps;
}

NumpyOut<int32_t> ranges_of(bool streaming_head, int sink_tokens, int local_tokens, int page_size,
                            int num_tokens, const std::optional<IntIn>& pages) {
  if (page_size <= 0 || num_tokens < 0 || sink_tokens < 0 || local_tokens < 0)
    throw std::invalid_argument("page_size must be positive; tokens, sink and local >= 0");
  std::span<const int32_t> page_ids;
  if (pages) {
    require_shape(*pages, "pages", {-1});
    page_ids = span_of(*pages);
  }
  const std::vector<TokenRange> ranges =
      attended_ranges(streaming_head, sink_tokens, local_tokens, page_size, page_ids, num_tokens);
  std::vector<int32_t> flat;
  for (const TokenRange& range : ranges) {
    flat.push_back(range.begin);
    flat.push_back(range.end);
  }
  return to_numpy(std::move(flat), {ranges.size(), 2});
}

}  // namespace

void bind_selection(nb::module_& m) {
  m.def("key_statistics", &key_statistics, nb::arg("keys"), nb::arg("logical_page_size"),
        "Quest statistics of one KV head's keys [n, head_dim]: (kmax, kmin), each "
        "[ceil(n / logical_page_size), head_dim] (the last logical page may be partial).");
  m.def("physical_page_scores", &page_scores, nb::arg("query"), nb::arg("keys"),
        nb::arg("page_size"), nb::arg("logical_page_size"),
        "Quest upper bounds of query [head_dim] against the statistics of keys [n, head_dim]: one "
        "fp32 score per physical page, the max of its logical pages' sum_i max(q_i kmax_i, q_i kmin_i).");
  m.def("top_pages", &pages_of<FloatIn>, nb::arg("scores"), nb::arg("num_pages"), nb::arg("k"),
        nb::arg("scored_only") = false,
        "The budget rule: every page when num_pages <= k, else the last page plus the k - 1 "
        "best-scoring other pages (ties: lower page id); ascending int32 ids. scored_only drops "
        "the forced last page (what the selector caches for reuse).");
  m.def("top_pages", &pages_of<DoubleIn>, nb::arg("scores"), nb::arg("num_pages"), nb::arg("k"),
        nb::arg("scored_only") = false, "The same for fp64 scores (the oracle's page masses).");
  m.def("select_pages", &select_pages, nb::arg("keys"), nb::arg("q_decode"), nb::arg("k_decode"),
        nb::arg("page_size"), nb::arg("logical_page_size"), nb::arg("token_budget"),
        nb::arg("reuse_interval"), nb::arg("gqa_selection") = "per_query_head",
        nb::arg("selector") = "quest",
        "Page selection of every decode step, every head dense: keys [num_kv_heads, T, d] of the "
        "prompt, q_decode [steps, num_q_heads, d], k_decode [steps, num_kv_heads, d] (key T + s "
        "appended before query s). Returns per step (indptr, indices), row h = query head h.");
  m.def("attended_ranges", &ranges_of, nb::arg("streaming_head"), nb::arg("sink_tokens"),
        nb::arg("local_tokens"), nb::arg("page_size"), nb::arg("num_tokens"),
        nb::arg("pages").none() = nb::none(),
        "The exact tokens a decode row attends as [r, 2] half-open ranges: streaming head "
        "[0, sink) and [n - local, n); otherwise the tokens of `pages` clipped to n.");
}

}  // namespace unisparse::python
