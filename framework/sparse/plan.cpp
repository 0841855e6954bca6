#include "framework/sparse/plan.h"

#include <algorithm>

namespace unisparse {

std::vector<TokenRange> attended_ranges(bool streaming_head, int sink_tokens, int local_tokens,
                                        int physical_page_size, std::span<const int32_t> pages,
                                        int num_tokens) {
  std::vector<TokenRange> ranges;
  if (streaming_head) {
    const int sink_end = std::min(sink_tokens, num_tokens);
    const int local_begin = std::max(0, num_tokens - local_tokens);
    if (local_begin <= sink_end) {
      ranges.push_back({0, num_tokens});
    } else {
      if (sink_end > 0) ranges.push_back({0, sink_end});
      ranges.push_back({local_begin, num_tokens});
    }
    return ranges;
  }
  for (int32_t page : pages) {
    const int begin = page * physical_page_size;
    const int end = std::min(begin + physical_page_size, num_tokens);
    if (begin >= end) continue;
    if (!ranges.empty() && ranges.back().end == begin)
      ranges.back().end = end;
    else
      ranges.push_back({begin, end});
  }
  return ranges;
}

bool PrefillPlan::visible(PrefillHeadMode mode, int query, int key) const {
  if (key > query) return false;
  if (mode == PrefillHeadMode::streaming) return key < sink_tokens || query - key < local_tokens;
  return true;  // dense causal; block_list heads are filtered by their block rows first
}

DecodePlan make_decode_plan(const PointConfig& point, const HeadLayout& heads) {
  DecodePlan plan;
  plan.mode = point.mode;
  plan.heads = heads;
  plan.geometry = {point.page_size, point.logical_page_size};
  plan.policy = {point.token_budget, point.reuse_interval, point.gqa_selection};
  plan.selector = point.selector;
  plan.kv_storage = point.kv_dtype;
  plan.cache_fill = point.cache_fill;
  plan.prefill_block_size = point.block_size;
  return plan;
}

PrefillPlan make_prefill_plan(const ModelShape& shape, const HeadLayout& heads, int block_size,
                              bool use_streaming) {
  PrefillPlan plan;
  plan.block_size = block_size;
  plan.sink_tokens = heads.sink_tokens;
  plan.local_tokens = heads.local_tokens;
  plan.head_mode.resize(shape.num_q_heads);
  for (int h = 0; h < shape.num_q_heads; ++h)
    plan.head_mode[h] = use_streaming && heads.is_streaming(shape.kv_head_of(h))
                            ? PrefillHeadMode::streaming
                            : PrefillHeadMode::dense_causal;
  return plan;
}

}  // namespace unisparse
