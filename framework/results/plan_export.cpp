#include "framework/results/plan_export.h"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <utility>
#include <vector>

#include "framework/workload/safetensors.h"

namespace unisparse {
namespace {

using NamedArrays = std::vector<std::pair<std::string, Int32Tensor>>;

void write_arrays(const std::string& path, const NamedArrays& arrays,
                  const std::map<std::string, std::string>& metadata) {
  std::vector<SafetensorsTensor> tensors;
  tensors.reserve(arrays.size());
  for (const auto& [name, array] : arrays)
    tensors.push_back({.name = name, .int32 = &array});
  write_safetensors(path, tensors, metadata);
}

// Checks that every row of `lists` holds strictly ascending ids in [0, num_ids).
void check_rows(const Csr& lists, int num_ids, const std::string& what) {
  for (int row = 0; row < lists.rows(); ++row) {
    const std::span<const int32_t> ids = lists.row(row);
    for (size_t i = 0; i < ids.size(); ++i)
      if (ids[i] < 0 || ids[i] >= num_ids || (i > 0 && ids[i] <= ids[i - 1]))
        throw std::invalid_argument(what + " row " + std::to_string(row) +
                                    " is not strictly ascending ids in [0, " +
                                    std::to_string(num_ids) + ")");
  }
}

// The CSR arrays and their FlexAttention form: kv_num_blocks [leading..., rows_per_leading...] is
// one count per row, kv_indices appends a trailing dimension of `width` ids padded with zeros.
void append_csr_and_block_mask(NamedArrays& arrays, const std::string& prefix, const Csr& lists,
                               const std::vector<int64_t>& row_shape, int width) {
  arrays.emplace_back(prefix + "indptr",
                      Int32Tensor{{static_cast<int64_t>(lists.indptr.size())}, lists.indptr});
  arrays.emplace_back(prefix + "indices",
                      Int32Tensor{{static_cast<int64_t>(lists.indices.size())}, lists.indices});

  Int32Tensor num_blocks{row_shape, {}};
  std::vector<int64_t> indices_shape = row_shape;
  indices_shape.push_back(width);
  Int32Tensor indices{indices_shape, std::vector<int32_t>(static_cast<size_t>(lists.rows()) * width)};
  for (int row = 0; row < lists.rows(); ++row) {
    const std::span<const int32_t> ids = lists.row(row);
    num_blocks.values.push_back(static_cast<int32_t>(ids.size()));
    std::ranges::copy(ids, indices.values.begin() + static_cast<int64_t>(row) * width);
  }
  arrays.emplace_back(prefix + "kv_num_blocks", std::move(num_blocks));
  arrays.emplace_back(prefix + "kv_indices", std::move(indices));
}

template <typename Item, typename Name>
std::string joined(const std::vector<Item>& items, Name name) {
  std::string text;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) text += ',';
    text += name(items[i]);
  }
  return text;
}

std::string_view mode_name(PrefillHeadMode mode) {
  switch (mode) {
    case PrefillHeadMode::dense_causal: return "dense_causal";
    case PrefillHeadMode::streaming: return "streaming";
    case PrefillHeadMode::block_list: return "block_list";
  }
  throw std::logic_error("plan export: unknown prefill head mode");
}

// The KV blocks a streaming head's query block makes active: block kv_block holds a visible pair
// when it starts inside the sink, or when its last key (clipped to the block's first query) is
// within `local_tokens` of that query; both need kv_block <= q_block (causal).
std::vector<int32_t> streaming_blocks(const PrefillPlan& plan, int q_block, int num_tokens) {
  const int first_query = q_block * plan.block_size;
  std::vector<int32_t> blocks;
  for (int kv_block = 0; kv_block <= q_block; ++kv_block) {
    const int first_key = kv_block * plan.block_size;
    const int last_key = std::min(first_key + plan.block_size, num_tokens) - 1;
    const int nearest_key = std::min(last_key, first_query);
    if (first_key < plan.sink_tokens || first_query - nearest_key < plan.local_tokens)
      blocks.push_back(kv_block);
  }
  return blocks;
}

}  // namespace

void export_decode_plan(const std::string& path, const Workload& workload, const DecodePlan& plan,
                        const DecodeRun& run) {
  const int num_q_heads = workload.shape.num_q_heads;
  const int page_size = plan.geometry.physical_page_size;
  if (page_size <= 0) throw std::invalid_argument("decode plan export: page size must be positive");
  const int rows = workload.batch_size() * num_q_heads;
  const int steps = static_cast<int>(run.selections.size());

  NamedArrays arrays;
  for (int step = 0; step < steps; ++step) {
    const Csr& pages = run.selections[step];
    const std::string prefix = "decode.step" + std::to_string(step) + ".";
    if (pages.rows() != rows)
      throw std::invalid_argument("decode plan export: step " + std::to_string(step) + " has " +
                                  std::to_string(pages.rows()) + " rows, expected batch * " +
                                  "num_q_heads = " + std::to_string(rows));
    const int num_pages = static_cast<int>(ceil_div(workload.tokens_at_step(step), page_size));
    check_rows(pages, num_pages, "decode plan export: step " + std::to_string(step));
    append_csr_and_block_mask(arrays, prefix, pages, {workload.batch_size(), num_q_heads, 1},
                              num_pages);
  }

  const std::map<std::string, std::string> metadata{
      {"plan", "decode"},
      {"page_size", std::to_string(page_size)},
      {"logical_page_size", std::to_string(plan.geometry.logical_page_size)},
      {"token_budget", std::to_string(plan.policy.token_budget)},
      {"reuse_interval", std::to_string(plan.policy.reuse_interval)},
      {"gqa_selection", std::string(to_string(plan.policy.gqa_selection))},
      {"mode", std::string(to_string(plan.mode))},
      {"batch", std::to_string(workload.batch_size())},
      {"num_q_heads", std::to_string(num_q_heads)},
      {"num_kv_heads", std::to_string(workload.shape.num_kv_heads)},
      {"steps", std::to_string(steps)},
      {"context_len", std::to_string(workload.context_len)},
      {"sink_tokens", std::to_string(plan.heads.sink_tokens)},
      {"local_tokens", std::to_string(plan.heads.local_tokens)},
      {"kv_head_kinds",
       joined(plan.heads.kv_head_kind, [](HeadKind kind) { return to_string(kind); })},
      {"workload", workload.name},
      {"seed", std::to_string(workload.seed)},
  };
  write_arrays(path, arrays, metadata);
}

void export_prefill_plan(const std::string& path, const Workload& workload, const PrefillPlan& plan) {
  const int num_q_heads = workload.shape.num_q_heads;
  const int num_tokens = workload.context_len;
  if (plan.block_size <= 0)
    throw std::invalid_argument("prefill plan export: block size must be positive");
  if (static_cast<int>(plan.head_mode.size()) != num_q_heads)
    throw std::invalid_argument("prefill plan export: the plan has " +
                                std::to_string(plan.head_mode.size()) + " head modes for " +
                                std::to_string(num_q_heads) + " query heads");
  const int num_blocks = static_cast<int>(ceil_div(num_tokens, plan.block_size));
  const bool any_block_list =
      std::ranges::find(plan.head_mode, PrefillHeadMode::block_list) != plan.head_mode.end();
  if (any_block_list) {
    if (plan.blocks.rows() != num_q_heads * num_blocks)
      throw std::invalid_argument("prefill plan export: the block list has " +
                                  std::to_string(plan.blocks.rows()) + " rows, expected " +
                                  std::to_string(num_q_heads * num_blocks) +
                                  " (num_q_heads * num_q_blocks)");
    check_rows(plan.blocks, num_blocks, "prefill plan export: block list");
  }

  Csr active;
  std::vector<int32_t> causal_blocks;
  for (int q_head = 0; q_head < num_q_heads; ++q_head) {
    for (int q_block = 0; q_block < num_blocks; ++q_block) {
      switch (plan.head_mode[q_head]) {
        case PrefillHeadMode::dense_causal:
          causal_blocks.push_back(q_block);  // blocks 0 .. q_block
          active.append_row(causal_blocks);
          break;
        case PrefillHeadMode::streaming:
          active.append_row(streaming_blocks(plan, q_block, num_tokens));
          break;
        case PrefillHeadMode::block_list:
          active.append_row(plan.blocks.row(q_head * num_blocks + q_block));
          break;
      }
    }
    causal_blocks.clear();
  }

  NamedArrays arrays;
  append_csr_and_block_mask(arrays, "prefill.", active, {1, num_q_heads, num_blocks}, num_blocks);
  const std::map<std::string, std::string> metadata{
      {"plan", "prefill"},
      {"block_size", std::to_string(plan.block_size)},
      {"context_len", std::to_string(num_tokens)},
      {"num_q_heads", std::to_string(num_q_heads)},
      {"num_kv_heads", std::to_string(workload.shape.num_kv_heads)},
      {"num_q_blocks", std::to_string(num_blocks)},
      {"sink_tokens", std::to_string(plan.sink_tokens)},
      {"local_tokens", std::to_string(plan.local_tokens)},
      {"head_modes", joined(plan.head_mode, mode_name)},
      {"workload", workload.name},
      {"seed", std::to_string(workload.seed)},
  };
  write_arrays(path, arrays, metadata);
}

}  // namespace unisparse
