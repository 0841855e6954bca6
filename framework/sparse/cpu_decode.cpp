#include "framework/sparse/cpu_decode.h"

#include <chrono>
#include <numeric>
#include <optional>
#include <stdexcept>

#include "framework/core/parallel.h"
#include "framework/sparse/cpu_attention.h"
#include "framework/sparse/key_stats.h"
#include "framework/sparse/page_selector.h"

namespace unisparse {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Ascending ids of the physical pages that the given token ranges touch.
std::vector<int32_t> pages_of_ranges(std::span<const TokenRange> ranges, int physical_page_size) {
  std::vector<int32_t> pages;
  for (const TokenRange& range : ranges) {
    const int first = range.begin / physical_page_size;
    const int last = (range.end - 1) / physical_page_size;
    for (int page = first; page <= last; ++page)
      if (pages.empty() || pages.back() < page) pages.push_back(page);
  }
  return pages;
}

void check_decode_inputs(const Workload& workload, const DecodePlan& plan) {
  const ModelShape& shape = workload.shape;
  if (shape.num_q_heads <= 0 || shape.num_kv_heads <= 0 || shape.num_q_heads % shape.num_kv_heads)
    throw std::invalid_argument("cpu decode: query heads must be a multiple of KV heads");
  if (plan.geometry.physical_page_size <= 0)
    throw std::invalid_argument("cpu decode: physical page size must be positive");
  if (uses_streaming_heads(plan.mode) &&
      static_cast<int>(plan.heads.kv_head_kind.size()) != shape.num_kv_heads)
    throw std::invalid_argument("cpu decode: the plan's head layout does not match the KV heads");
  for (const Sequence& seq : workload.batch)
    if (seq.q_decode.rank() != 3 || seq.q_decode.dim(0) < workload.decode_steps ||
        seq.k_decode.rank() != 3 || seq.k_decode.dim(0) < workload.decode_steps)
      throw std::invalid_argument("cpu decode: the workload lacks decode queries or keys");
}

}  // namespace

CpuDecodeResult cpu_decode(const Workload& workload, const DecodePlan& plan) {
  check_decode_inputs(workload, plan);
  const ModelShape& shape = workload.shape;
  const int batch = workload.batch_size();
  const int steps = workload.decode_steps;
  const int page_size = plan.geometry.physical_page_size;
  const bool select_pages = uses_page_selection(plan.mode);

  std::vector<bool> streaming_kv_head(shape.num_kv_heads, false);
  if (uses_streaming_heads(plan.mode))
    for (int kv = 0; kv < shape.num_kv_heads; ++kv) streaming_kv_head[kv] = plan.heads.is_streaming(kv);

  // Statistics after the prefill belong to the prefill, not to the timed decode phases.
  std::optional<KeyStatsSet> stats;
  std::optional<PageSelector> selector;
  if (select_pages) {
    stats.emplace(workload, plan.geometry.logical_page_size);
    std::vector<bool> dense_kv_head(shape.num_kv_heads);
    for (int kv = 0; kv < shape.num_kv_heads; ++kv) dense_kv_head[kv] = !streaming_kv_head[kv];
    selector.emplace(shape, plan.geometry, plan.policy, batch, std::move(dense_kv_head));
  }

  CpuDecodeResult result;
  result.out.assign(batch, Tensor({steps, shape.num_q_heads, shape.head_dim}));
  result.selections.reserve(steps);
  const int num_rows = batch * shape.num_q_heads;

  for (int step = 0; step < steps; ++step) {
    const int num_tokens = workload.tokens_at_step(step);
    const int num_pages = static_cast<int>(ceil_div(num_tokens, page_size));

    Csr selected;  // rows of dense heads under page selection
    if (select_pages) {
      auto start = Clock::now();
      stats->append_decode_token(workload, step);
      result.seconds.stats += seconds_since(start);
      start = Clock::now();
      selected = selector->select(step, num_tokens, *stats, workload);
      result.seconds.selector += seconds_since(start);
    }

    const auto start = Clock::now();
    std::vector<int32_t> every_page(num_pages);
    std::iota(every_page.begin(), every_page.end(), 0);
    const std::vector<TokenRange> streaming_ranges = attended_ranges(
        true, plan.heads.sink_tokens, plan.heads.local_tokens, page_size, {}, num_tokens);
    const std::vector<int32_t> streaming_pages = pages_of_ranges(streaming_ranges, page_size);
    Csr& rows = result.selections.emplace_back();
    for (int row = 0; row < num_rows; ++row) {
      const int kv_head = shape.kv_head_of(row % shape.num_q_heads);
      if (streaming_kv_head[kv_head])
        rows.append_row(streaming_pages);
      else if (select_pages)
        rows.append_row(selected.row(row));
      else
        rows.append_row(every_page);
    }

    parallel_for(num_rows, [&](int64_t row_index) {
      const int row = static_cast<int>(row_index);
      const int b = row / shape.num_q_heads;
      const int q_head = row % shape.num_q_heads;
      const int kv_head = shape.kv_head_of(q_head);
      const std::vector<TokenRange> ranges =
          streaming_kv_head[kv_head]
              ? streaming_ranges
              : attended_ranges(false, 0, 0, page_size, rows.row(row), num_tokens);
      const auto head_dim = static_cast<size_t>(shape.head_dim);
      attend_token_ranges({workload.batch[b].q_decode.row({step, q_head}), head_dim}, ranges,
                          workload, b, kv_head, {result.out[b].row({step, q_head}), head_dim});
    });
    result.seconds.attention += seconds_since(start);
  }
  return result;
}

}  // namespace unisparse
