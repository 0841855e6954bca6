#pragma once
// The dense reference of a workload's decode rows, computed once and kept: every sweep point that
// shares a workload (all page sizes, budgets, reuse intervals, modes of one context) is scored against
// the same rows, so the fp64 attention over the whole context runs once per workload, not per point.
#include <span>
#include <vector>

#include "framework/workload/workload.h"

namespace unisparse {

class DecodeReference {
 public:
  // Computes the rows of the first `batches` sequences (clamped to the batch) in parallel.
  DecodeReference(const Workload& workload, int batches);

  int batches() const { return batches_; }
  // Softmax weights of row (b, step, q_head): [T + step + 1]; its output: [head_dim].
  std::span<const double> probabilities(int b, int step, int q_head) const;
  std::span<const double> output(int b, int step, int q_head) const;

 private:
  int64_t row_index(int b, int step, int q_head) const;
  int batches_;
  int steps_;
  int num_q_heads_;
  int head_dim_;
  std::vector<std::vector<double>> probabilities_;  // [batches * steps * num_q_heads][tokens]
  std::vector<double> outputs_;                      // [batches, steps, num_q_heads, head_dim]
};

}  // namespace unisparse
