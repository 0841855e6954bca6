#include "framework/reference/decode_reference.h"

#include <algorithm>

#include "framework/core/parallel.h"
#include "framework/reference/dense_attention.h"

namespace unisparse {

DecodeReference::DecodeReference(const Workload& workload, int batches)
    : batches_(std::clamp(batches, 0, workload.batch_size())),
      steps_(workload.decode_steps),
      num_q_heads_(workload.shape.num_q_heads),
      head_dim_(workload.shape.head_dim) {
  const int64_t rows = int64_t{batches_} * steps_ * num_q_heads_;
  probabilities_.resize(rows);
  outputs_.resize(rows * head_dim_);
  parallel_for(rows, [&](int64_t index) {
    const int q_head = static_cast<int>(index % num_q_heads_);
    const int step = static_cast<int>(index / num_q_heads_ % steps_);
    const int b = static_cast<int>(index / (int64_t{num_q_heads_} * steps_));
    std::vector<double> out;
    reference_decode_row(workload, b, step, q_head, probabilities_[index], out);
    std::copy(out.begin(), out.end(), outputs_.begin() + index * head_dim_);
  });
}

int64_t DecodeReference::row_index(int b, int step, int q_head) const {
  return (int64_t{b} * steps_ + step) * num_q_heads_ + q_head;
}

std::span<const double> DecodeReference::probabilities(int b, int step, int q_head) const {
  return probabilities_[row_index(b, step, q_head)];
}

std::span<const double> DecodeReference::output(int b, int step, int q_head) const {
  return {outputs_.data() + row_index(b, step, q_head) * head_dim_, static_cast<size_t>(head_dim_)};
}

}  // namespace unisparse
