#include "framework/metrics/streaming_cost.h"

#include <algorithm>
#include <stdexcept>

#include "framework/metrics/accuracy.h"
#include "framework/metrics/error_summary.h"
#include "framework/reference/decode_reference.h"
#include "framework/sparse/cpu_decode.h"

namespace unisparse {

StreamingCost streaming_cost(const Workload& workload, int sink_tokens, int local_tokens) {
  if (workload.decode_steps < 1 || workload.batch.empty())
    throw std::invalid_argument("streaming_cost: the workload has no decode steps");
  const ModelShape& shape = workload.shape;
  DecodePlan plan;
  plan.mode = SparsityMode::static_only;
  plan.heads = HeadLayout::with_streaming_fraction(shape.num_kv_heads, 1.0, sink_tokens, local_tokens);
  const CpuDecodeResult streaming = cpu_decode(workload, plan);
  const DecodeReference reference(workload, 1);

  StreamingCost cost;
  cost.out_rel_l2.assign(shape.num_kv_heads, 0.0);
  cost.outside_mass.assign(shape.num_kv_heads, 0.0);
  const auto head_dim = static_cast<size_t>(shape.head_dim);
  for (int step = 0; step < workload.decode_steps; ++step) {
    const std::vector<TokenRange> window =
        attended_ranges(true, sink_tokens, local_tokens, 1, {}, workload.tokens_at_step(step));
    std::vector<double> step_error(shape.num_kv_heads, 0.0), step_outside(shape.num_kv_heads, 0.0);
    for (int q_head = 0; q_head < shape.num_q_heads; ++q_head) {
      const int kv_head = shape.kv_head_of(q_head);
      const std::span<const float> out{streaming.out[0].row({step, q_head}), head_dim};
      step_error[kv_head] =
          std::max(step_error[kv_head], relative_l2(out, reference.output(0, step, q_head)));
      // The reference weights sum to 1 up to rounding: a head inside its window scores 0, not -1e-17.
      const double outside =
          std::max(0.0, 1.0 - mass_inside(reference.probabilities(0, step, q_head), window));
      step_outside[kv_head] = std::max(step_outside[kv_head], outside);
    }
    for (int kv_head = 0; kv_head < shape.num_kv_heads; ++kv_head) {
      cost.out_rel_l2[kv_head] += step_error[kv_head] / workload.decode_steps;
      cost.outside_mass[kv_head] += step_outside[kv_head] / workload.decode_steps;
    }
  }
  return cost;
}

}  // namespace unisparse
