#include "framework/sparse/cpu_prefill.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "framework/core/parallel.h"
#include "framework/sparse/cpu_attention.h"

namespace unisparse {

namespace {

// Query rows per parallel task: long enough to amortise the task, short enough to balance the
// causal triangle (late rows attend more keys) over the threads.
constexpr int kRowsPerTask = 32;

void check_prefill_inputs(const Workload& workload, const PrefillPlan& plan) {
  const ModelShape& shape = workload.shape;
  const int num_tokens = workload.context_len;
  const auto fail = [](const std::string& message) {
    throw std::invalid_argument("cpu prefill: " + message);
  };
  if (static_cast<int>(plan.head_mode.size()) != shape.num_q_heads)
    fail("the plan has " + std::to_string(plan.head_mode.size()) + " head modes for " +
         std::to_string(shape.num_q_heads) + " query heads");
  for (const Sequence& seq : workload.batch)
    if (seq.q.rank() != 3 || seq.q.dim(0) != shape.num_q_heads || seq.q.dim(1) != num_tokens)
      fail("the workload lacks prefill queries [num_q_heads, T, head_dim]");
  const bool any_block_list = std::ranges::any_of(
      plan.head_mode, [](PrefillHeadMode mode) { return mode == PrefillHeadMode::block_list; });
  if (!any_block_list) return;
  if (plan.block_size <= 0) fail("block size must be positive");
  const int num_blocks = static_cast<int>(ceil_div(num_tokens, plan.block_size));
  if (plan.blocks.rows() != shape.num_q_heads * num_blocks)
    fail("the block list has " + std::to_string(plan.blocks.rows()) + " rows, expected " +
         std::to_string(shape.num_q_heads * num_blocks) + " (num_q_heads * num_q_blocks)");
  for (int row = 0; row < plan.blocks.rows(); ++row) {
    const std::span<const int32_t> blocks = plan.blocks.row(row);
    for (size_t i = 0; i < blocks.size(); ++i)
      if (blocks[i] < 0 || blocks[i] >= num_blocks || (i > 0 && blocks[i] <= blocks[i - 1]))
        fail("block list row " + std::to_string(row) + " is not ascending ids in [0, " +
             std::to_string(num_blocks) + ")");
  }
}

// The keys query `query` of a head in `mode` attends, as ascending disjoint token ranges.
std::vector<TokenRange> visible_ranges(const PrefillPlan& plan, PrefillHeadMode mode, int q_head,
                                       int query, int num_q_blocks) {
  const int causal_end = query + 1;
  switch (mode) {
    case PrefillHeadMode::dense_causal:
      return {{0, causal_end}};
    case PrefillHeadMode::streaming:
      // Streaming prefill sees exactly what a streaming decode query at this position sees.
      return attended_ranges(true, plan.sink_tokens, plan.local_tokens, plan.block_size, {},
                             causal_end);
    case PrefillHeadMode::block_list: {
      const int row = q_head * num_q_blocks + query / plan.block_size;
      return attended_ranges(false, 0, 0, plan.block_size, plan.blocks.row(row), causal_end);
    }
  }
  throw std::logic_error("cpu prefill: unknown head mode");
}

}  // namespace

std::vector<Tensor> cpu_prefill(const Workload& workload, const PrefillPlan& plan) {
  check_prefill_inputs(workload, plan);
  const ModelShape& shape = workload.shape;
  const int num_tokens = workload.context_len;
  const auto head_dim = static_cast<size_t>(shape.head_dim);
  const int num_q_blocks = plan.block_size > 0 ? static_cast<int>(ceil_div(num_tokens, plan.block_size)) : 0;
  const int tasks_per_head = static_cast<int>(ceil_div(num_tokens, kRowsPerTask));

  std::vector<Tensor> out(workload.batch_size(),
                          Tensor({shape.num_q_heads, num_tokens, shape.head_dim}));
  const int64_t num_tasks = int64_t{workload.batch_size()} * shape.num_q_heads * tasks_per_head;
  parallel_for(num_tasks, [&](int64_t task) {
    const int b = static_cast<int>(task / (int64_t{shape.num_q_heads} * tasks_per_head));
    const int q_head = static_cast<int>(task / tasks_per_head % shape.num_q_heads);
    const int first_row = static_cast<int>(task % tasks_per_head) * kRowsPerTask;
    const int kv_head = shape.kv_head_of(q_head);
    const PrefillHeadMode mode = plan.head_mode[q_head];
    const Tensor& queries = workload.batch[b].q;
    for (int query = first_row; query < std::min(first_row + kRowsPerTask, num_tokens); ++query) {
      const std::vector<TokenRange> ranges = visible_ranges(plan, mode, q_head, query, num_q_blocks);
      attend_token_ranges({queries.row({q_head, query}), head_dim}, ranges, workload, b, kv_head,
                          {out[b].row({q_head, query}), head_dim});
    }
  });
  return out;
}

}  // namespace unisparse
