#include "kernels/decode/split_plan.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/common/launch_limits.h"

namespace unisparse::cuda {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

void check(const SplitPlanInput& input) {
  if (input.work_items < 1 || input.max_chunks < 1 || input.chunk_tokens < 1 || input.resident_blocks < 1)
    throw std::invalid_argument("plan_splits: work_items " + std::to_string(input.work_items) +
                                ", max_chunks " + std::to_string(input.max_chunks) + ", chunk_tokens " +
                                std::to_string(input.chunk_tokens) + " and resident_blocks " +
                                std::to_string(input.resident_blocks) + " must all be positive");
}

}  // namespace

double split_launch_cost(const SplitPlanInput& input, int splits) {
  check(input);
  const int64_t blocks = int64_t(input.work_items) * splits;
  const int64_t waves = ceil_div(blocks, input.resident_blocks);
  const int64_t block_tokens = ceil_div(input.max_chunks, splits) * int64_t(input.chunk_tokens);
  return double(waves) * double(block_tokens + limits::kSplitFixedCostTokens);
}

int plan_splits(const SplitPlanInput& input) {
  check(input);
  const int most = std::min(input.max_chunks, limits::kMaxSplits);
  int best = 1;
  double best_cost = split_launch_cost(input, 1);
  for (int splits = 2; splits <= most; ++splits) {
    const double cost = split_launch_cost(input, splits);
    if (cost < best_cost) {
      best = splits;
      best_cost = cost;
    }
  }
  return best;
}

}  // namespace unisparse::cuda
