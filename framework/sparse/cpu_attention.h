#pragma once
// Softmax attention of one query over an exact token set, the inner loop of the CPU backend's
// decode and prefill (the twin of the dense fp64 reference, restricted to the attended tokens).
#include <span>
#include <vector>

#include "framework/sparse/plan.h"
#include "framework/workload/workload.h"

namespace unisparse {

// out[head_dim] = softmax(q.k_t / sqrt(head_dim)) . v_t over the tokens t of `ranges` of sequence b,
// KV head kv_head (prefill tokens, then decode tokens, as Workload::key). Logits are fp32 dot
// products (in eight partial sums); the softmax and the weighted sum of values accumulate in fp64.
// No tokens: out = 0.
void attend_token_ranges(std::span<const float> query, std::span<const TokenRange> ranges,
                         const Workload& workload, int b, int kv_head, std::span<float> out);

// The softmax weights that attend_token_ranges gives the tokens of `ranges`, in range order
// ([number of tokens in ranges], summing to 1; empty when ranges hold no token): the same fp32
// logits, normalised in fp64. The oracle page selector reads the attention mass of pages from them.
std::vector<double> attention_weights(std::span<const float> query,
                                      std::span<const TokenRange> ranges, const Workload& workload,
                                      int b, int kv_head);

}  // namespace unisparse
