#include "plan_args.h"

#include <stdexcept>

#include "framework/sparse/page_selector_kind.h"

namespace unisparse::python {

namespace {

template <class Enum>
Enum parsed(const std::string& text, const char* name, const char* allowed) {
  Enum value{};
  if (!parse(text, value))
    throw std::invalid_argument(std::string(name) + ": unknown value '" + text + "' (" + allowed + ")");
  return value;
}

}  // namespace

HeadLayout head_layout(const std::string& head_kinds, int num_kv_heads, int sink_tokens,
                       int local_tokens) {
  HeadLayout heads = HeadLayout::all_dense(num_kv_heads);
  heads.sink_tokens = sink_tokens;
  heads.local_tokens = local_tokens;
  if (head_kinds.empty()) return heads;
  if (static_cast<int>(head_kinds.size()) != num_kv_heads)
    throw std::invalid_argument("head_kinds: '" + head_kinds + "' has " +
                                std::to_string(head_kinds.size()) + " letters for " +
                                std::to_string(num_kv_heads) + " KV heads");
  for (int kv = 0; kv < num_kv_heads; ++kv) {
    if (head_kinds[kv] != 'd' && head_kinds[kv] != 's')
      throw std::invalid_argument("head_kinds: '" + head_kinds +
                                  "': expected one 'd' (dense) or 's' (streaming) per KV head");
    heads.kv_head_kind[kv] = head_kinds[kv] == 's' ? HeadKind::streaming : HeadKind::dense;
  }
  return heads;
}

DecodePlan make_plan(const PlanArgs& args, int num_kv_heads) {
  if (args.sink_tokens < 0 || args.local_tokens < 1)
    throw std::invalid_argument("sink_tokens must be >= 0 and local_tokens >= 1");
  DecodePlan plan;
  plan.mode = parsed<SparsityMode>(args.mode, "mode", "dense | static | dynamic | static+dynamic");
  plan.heads = head_layout(args.head_kinds, num_kv_heads, args.sink_tokens, args.local_tokens);
  plan.geometry = {args.page_size, args.logical_page_size};
  plan.policy = {args.token_budget, args.reuse_interval,
                 parsed<GqaSelection>(args.gqa_selection, "gqa_selection",
                                      "per_query_head | kv_head_max | kv_head_sum")};
  plan.selector = parsed<PageSelectorKind>(args.selector, "selector", "quest | oracle");
  plan.kv_storage = parsed<DType>(args.kv_dtype, "kv_dtype", "fp32 | fp16 | bf16 | int8 | int4 | fp8");
  return plan;
}

}  // namespace unisparse::python
