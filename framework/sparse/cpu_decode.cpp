#include "framework/sparse/cpu_decode.h"

#include <chrono>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>

#include "framework/core/kv_quant.h"
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

// Replaces every [head_dim] row of a KV head's tokens, prefill ([kv_heads, T, d]) then decode
// ([steps, kv_heads, d]), by its quantize -> dequantize image.
void store_head_rows(Tensor& prefill, Tensor& decode, int kv_head, int head_dim, DType format) {
  std::span<const float> prefill_head;  // [T * d]
  if (!prefill.empty())
    prefill_head = {prefill.row({kv_head}), static_cast<size_t>(prefill.size() / prefill.dim(0))};
  const float fp8_scale = e4m3_scale(prefill_head);
  const auto store = [&](float* row) {
    const std::span<float> values(row, static_cast<size_t>(head_dim));
    quantize_dequantize_row(values, format, fp8_scale, values);
  };
  for (int64_t t = 0; !prefill.empty() && t < prefill.dim(1); ++t) store(prefill.row({kv_head, t}));
  for (int64_t s = 0; !decode.empty() && s < decode.dim(0); ++s) store(decode.row({s, kv_head}));
}

}  // namespace

Workload kv_as_stored(const Workload& workload, DType kv_storage) {
  if (!is_quantized(kv_storage))
    throw std::invalid_argument("kv_as_stored: " + std::string(to_string(kv_storage)) +
                                " is not a quantized KV format");
  Workload stored = workload;
  const int kv_heads = workload.shape.num_kv_heads;
  const int head_dim = workload.shape.head_dim;
  parallel_for(int64_t{workload.batch_size()} * kv_heads, [&](int64_t index) {
    Sequence& seq = stored.batch[index / kv_heads];
    const int kv_head = static_cast<int>(index % kv_heads);
    store_head_rows(seq.k, seq.k_decode, kv_head, head_dim, kv_storage);
    store_head_rows(seq.v, seq.v_decode, kv_head, head_dim, kv_storage);
  });
  return stored;
}

CpuDecodeResult cpu_decode(const Workload& workload, const DecodePlan& plan) {
  if (!is_quantized(plan.kv_storage)) return cpu_decode(workload, workload, plan);
  return cpu_decode(workload, kv_as_stored(workload, plan.kv_storage), plan);
}

CpuDecodeResult cpu_decode(const Workload& workload, const Workload& attended_kv,
                           const DecodePlan& plan) {
  check_decode_inputs(workload, plan);
  if (attended_kv.batch_size() != workload.batch_size() ||
      attended_kv.context_len != workload.context_len ||
      attended_kv.decode_steps != workload.decode_steps ||
      attended_kv.shape.num_kv_heads != workload.shape.num_kv_heads ||
      attended_kv.shape.head_dim != workload.shape.head_dim)
    throw std::invalid_argument("cpu decode: the attended K/V do not match the workload's shape");
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
    if (plan.selector == PageSelectorKind::quest) stats.emplace(workload, plan.geometry.logical_page_size);
    std::vector<bool> dense_kv_head(shape.num_kv_heads);
    for (int kv = 0; kv < shape.num_kv_heads; ++kv) dense_kv_head[kv] = !streaming_kv_head[kv];
    selector.emplace(shape, plan.geometry, plan.policy, batch, std::move(dense_kv_head),
                     plan.selector);
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
      if (stats) stats->append_decode_token(workload, step);
      result.seconds.stats += seconds_since(start);
      start = Clock::now();
      selected = selector->select(step, num_tokens, stats ? &*stats : nullptr, workload);
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
                          attended_kv, b, kv_head, {result.out[b].row({step, q_head}), head_dim});
    });
    result.seconds.attention += seconds_since(start);
  }
  return result;
}

}  // namespace unisparse
