#pragma once
// A DecodePlan from the binding's keyword arguments, parsed by the core's own name parsers (the
// names of the sweep parameters mode, gqa_selection, selector, kv_dtype).
#include <string>

#include "framework/core/types.h"
#include "framework/sparse/plan.h"

namespace unisparse::python {

struct PlanArgs {
  std::string mode = "dense";
  std::string head_kinds;  // per KV head 'd' (dense) or 's' (streaming), as results' head_layout
  int sink_tokens = 128;
  int local_tokens = 256;
  int page_size = 64;
  int logical_page_size = 16;
  int token_budget = 4096;
  int reuse_interval = 4;
  std::string gqa_selection = "per_query_head";
  std::string selector = "quest";
  std::string kv_dtype = "fp32";
};

// Throws std::invalid_argument (ValueError) naming the argument for an unknown name, a head_kinds
// string of other letters or of the wrong length (modes with streaming heads; "" = every head
// dense).
DecodePlan make_plan(const PlanArgs& args, int num_kv_heads);

// head_kinds text -> HeadLayout with the given window; every head dense for "".
HeadLayout head_layout(const std::string& head_kinds, int num_kv_heads, int sink_tokens,
                       int local_tokens);

// The binding's keyword arguments for a PlanArgs, with its defaults (to splice into nb::init / def).
#define UNISPARSE_PLAN_ARGS                                                                   \
  nb::arg("mode") = "dense", nb::arg("head_kinds") = "", nb::arg("sink_tokens") = 128,        \
      nb::arg("local_tokens") = 256, nb::arg("page_size") = 64,                               \
      nb::arg("logical_page_size") = 16, nb::arg("token_budget") = 4096,                      \
      nb::arg("reuse_interval") = 4, nb::arg("gqa_selection") = "per_query_head",             \
      nb::arg("selector") = "quest", nb::arg("kv_dtype") = "fp32"

#define UNISPARSE_PLAN_PARAMS                                                                 \
  const std::string &mode, const std::string &head_kinds, int sink_tokens, int local_tokens,  \
      int page_size, int logical_page_size, int token_budget, int reuse_interval,             \
      const std::string &gqa_selection, const std::string &selector, const std::string &kv_dtype

#define UNISPARSE_PLAN_VALUES                                                                 \
  PlanArgs {                                                                                  \
    mode, head_kinds, sink_tokens, local_tokens, page_size, logical_page_size, token_budget,  \
        reuse_interval, gqa_selection, selector, kv_dtype                                     \
  }

}  // namespace unisparse::python
