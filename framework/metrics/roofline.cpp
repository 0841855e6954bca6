#include "framework/metrics/roofline.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "framework/core/dtype.h"
#include "framework/core/kv_quant.h"

namespace unisparse {
namespace {

constexpr double kStatisticBytes = 2.0;  // kmax / kmin are stored as fp16

int64_t tokens_in(const std::vector<TokenRange>& ranges) {
  int64_t tokens = 0;
  for (const TokenRange& range : ranges) tokens += range.size();
  return tokens;
}

// Visible (query, key) pairs of a streaming head: query i sees [0, sink) ∪ (i - local, i].
int64_t streaming_pairs(int context_len, int sink_tokens, int local_tokens) {
  int64_t pairs = 0;
  for (int64_t query = 0; query < context_len; ++query) {
    const int64_t sink_end = std::min<int64_t>(sink_tokens, query + 1);
    const int64_t local_begin = std::max<int64_t>(0, query - local_tokens + 1);
    pairs += query + 1 - std::max<int64_t>(0, local_begin - sink_end);
  }
  return pairs;
}

// Causal pairs (key <= query) of query tokens [query_begin, query_end) and key tokens
// [key_begin, key_end).
int64_t causal_pairs(int64_t query_begin, int64_t query_end, int64_t key_begin, int64_t key_end) {
  if (key_end - 1 <= query_begin) return (query_end - query_begin) * (key_end - key_begin);
  int64_t pairs = 0;
  for (int64_t query = query_begin; query < query_end; ++query)
    pairs += std::max<int64_t>(0, std::min(query + 1, key_end) - key_begin);
  return pairs;
}

int64_t block_list_pairs(const PrefillPlan& plan, int q_head, int context_len) {
  const int num_q_blocks = static_cast<int>(ceil_div(context_len, plan.block_size));
  int64_t pairs = 0;
  for (int q_block = 0; q_block < num_q_blocks; ++q_block) {
    const int64_t query_begin = int64_t{q_block} * plan.block_size;
    const int64_t query_end = std::min<int64_t>(query_begin + plan.block_size, context_len);
    for (int32_t kv_block : plan.blocks.row(q_head * num_q_blocks + q_block)) {
      const int64_t key_begin = int64_t{kv_block} * plan.block_size;
      const int64_t key_end = std::min<int64_t>(key_begin + plan.block_size, context_len);
      if (key_begin < key_end) pairs += causal_pairs(query_begin, query_end, key_begin, key_end);
    }
  }
  return pairs;
}

}  // namespace

RooflineModel decode_roofline(const Workload& workload, const DecodePlan& plan,
                              const DecodeRun& run, DType kv_dtype) {
  const ModelShape& shape = workload.shape;
  const int steps = workload.decode_steps;
  if (steps == 0) return {};
  if (static_cast<int>(run.selections.size()) != steps)
    throw std::invalid_argument("decode_roofline: selections do not cover every decode step");

  const double head_dim = shape.head_dim;
  // K and V rows, each with its dequantization parameters.
  const double kv_token_bytes = 2.0 * (head_dim * bytes_per_element(kv_dtype) + kv_row_parameter_bytes(kv_dtype));
  const double statistics_page_bytes = 2.0 * head_dim * kStatisticBytes;       // kmax and kmin
  const bool selects_pages = uses_page_selection(plan.mode);
  const double reuse_interval = std::max(plan.policy.reuse_interval, 1);
  const int group_size = shape.group_size();

  RooflineModel total;
  std::vector<int32_t> group_pages;
  for (int step = 0; step < steps; ++step) {
    const Csr& selection = run.selections[step];
    if (selection.rows() != workload.batch_size() * shape.num_q_heads)
      throw std::invalid_argument(
          "decode_roofline: selections need one row per (sequence, query head)");
    const int num_tokens = workload.tokens_at_step(step);
    const double logical_pages =
        static_cast<double>(ceil_div(num_tokens, plan.geometry.logical_page_size));
    for (int b = 0; b < workload.batch_size(); ++b)
      for (int kv_head = 0; kv_head < shape.num_kv_heads; ++kv_head) {
        const bool streaming_head =
            uses_streaming_heads(plan.mode) && plan.heads.is_streaming(kv_head);
        const auto ranges_of = [&](std::span<const int32_t> pages) {
          return attended_ranges(streaming_head, plan.heads.sink_tokens, plan.heads.local_tokens,
                                 plan.geometry.physical_page_size, pages, num_tokens);
        };
        group_pages.clear();
        for (int q_head = kv_head * group_size; q_head < (kv_head + 1) * group_size; ++q_head) {
          const auto pages = selection.row(b * shape.num_q_heads + q_head);
          total.flops += 4.0 * head_dim * static_cast<double>(tokens_in(ranges_of(pages)));
          group_pages.insert(group_pages.end(), pages.begin(), pages.end());
        }
        std::ranges::sort(group_pages);
        group_pages.erase(std::unique(group_pages.begin(), group_pages.end()), group_pages.end());
        total.bytes += kv_token_bytes * static_cast<double>(tokens_in(ranges_of(group_pages)));

        if (selects_pages && !streaming_head) {
          total.bytes += statistics_page_bytes * logical_pages / reuse_interval;
          total.flops += group_size * 2.0 * head_dim * logical_pages / reuse_interval;
        }
      }
  }
  const double query_and_output_bytes = 2.0 * workload.batch_size() * shape.num_q_heads * head_dim *
                                        bytes_per_element(workload.dtype);
  return {total.bytes / steps + query_and_output_bytes, total.flops / steps};
}

RooflineModel prefill_roofline(const Workload& workload, const PrefillPlan& plan, DType dtype) {
  const ModelShape& shape = workload.shape;
  const int64_t context_len = workload.context_len;
  if (static_cast<int>(plan.head_mode.size()) != shape.num_q_heads)
    throw std::invalid_argument("prefill_roofline: the plan needs one mode per query head");

  int64_t visible_pairs = 0;  // per sequence, summed over query heads
  bool reads_block_list = false;
  for (int q_head = 0; q_head < shape.num_q_heads; ++q_head) {
    switch (plan.head_mode[q_head]) {
      case PrefillHeadMode::dense_causal:
        visible_pairs += context_len * (context_len + 1) / 2;
        break;
      case PrefillHeadMode::streaming:
        visible_pairs += streaming_pairs(workload.context_len, plan.sink_tokens, plan.local_tokens);
        break;
      case PrefillHeadMode::block_list:
        visible_pairs += block_list_pairs(plan, q_head, workload.context_len);
        reads_block_list = true;
        break;
    }
  }
  const double batch = workload.batch_size();
  const double head_dim = shape.head_dim;
  const double elements_per_sequence =
      2.0 * head_dim * static_cast<double>(context_len) * (shape.num_q_heads + shape.num_kv_heads);
  RooflineModel model;
  model.flops = 4.0 * head_dim * static_cast<double>(visible_pairs) * batch;
  model.bytes = elements_per_sequence * batch * bytes_per_element(dtype);
  if (reads_block_list)
    model.bytes += sizeof(int32_t) *
                   static_cast<double>(plan.blocks.indptr.size() + plan.blocks.indices.size());
  return model;
}

AchievedRates achieved_rates(const RooflineModel& model, double time_us,
                             const DeviceCeilings& ceilings) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (!(std::isfinite(time_us) && time_us > 0)) return {nan, nan, nan, nan};
  const double gbps = model.bytes / (time_us * 1e3);    // bytes / (time_us * 1e-6 s) / 1e9
  const double tflops = model.flops / (time_us * 1e6);  // flops / (time_us * 1e-6 s) / 1e12
  return {gbps, tflops, ceilings.hbm_gbps > 0 ? gbps / ceilings.hbm_gbps : nan,
          ceilings.tensor_tflops > 0 ? tflops / ceilings.tensor_tflops : nan};
}

}  // namespace unisparse
