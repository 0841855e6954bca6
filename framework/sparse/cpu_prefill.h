#pragma once
// The CPU twin of the sparse prefill kernel: causal attention of every prefill query, token exact,
// per query head in the plan's mode (dense causal, streaming sink + local, or an explicit block list).
#include <vector>

#include "framework/core/tensor.h"
#include "framework/sparse/plan.h"
#include "framework/workload/workload.h"

namespace unisparse {

// Per sequence: [num_q_heads, T, head_dim]. Query i of head h attends the keys j <= i with
//  * dense_causal: every such j;
//  * streaming: j < sink_tokens or i - j < local_tokens (PrefillPlan::visible);
//  * block_list: j in a KV block listed in row h * num_q_blocks + i / block_size of plan.blocks
//    (ascending block ids), masked causally inside the diagonal block.
std::vector<Tensor> cpu_prefill(const Workload& workload, const PrefillPlan& plan);

}  // namespace unisparse
