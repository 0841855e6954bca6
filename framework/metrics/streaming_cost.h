#pragma once
// What making each KV head a streaming head (sink + local tokens only) costs on one layer's decode
// steps, against the dense fp64 reference: the scores `unisparse calibrate-heads` ranks heads by
// (DuoAttention's trace-based proxy; workload/head_calibration.h).
#include <vector>

#include "framework/workload/workload.h"

namespace unisparse {

struct StreamingCost {
  // [num_kv_heads]: per decode step, the maximum over the KV head's query heads; then the mean
  // over the decode steps of sequence 0.
  std::vector<double> out_rel_l2;    // ||o_streaming - o_ref|| / ||o_ref||
  std::vector<double> outside_mass;  // reference softmax mass outside [0, sink) ∪ [n - local, n)
};

// Runs every head of the workload as a streaming head through the CPU backend's decode and scores
// it against the dense reference. The workload needs decode steps.
StreamingCost streaming_cost(const Workload& workload, int sink_tokens, int local_tokens);

}  // namespace unisparse
