#pragma once
// The dense attention every accuracy metric is measured against: exact softmax attention over all
// causally visible tokens, fp64 accumulation over the (already dtype-rounded) float inputs, GQA.
#include <cstdint>
#include <span>
#include <vector>

#include "framework/workload/workload.h"

namespace unisparse {

// One decode row: query s of query head q_head of sequence b against tokens 0..T+s of its KV head.
// probabilities: [T + s + 1] softmax weights (sum 1); out: [head_dim]. Both are resized; the caller
// reuses them as scratch across rows.
void reference_decode_row(const Workload& workload, int b, int step, int q_head,
                          std::vector<double>& probabilities, std::vector<double>& out);

// One causal prefill row: prefill query `query` of query head q_head of sequence b against keys
// 0..query. probabilities: [query + 1]; out: [head_dim].
void reference_prefill_row(const Workload& workload, int b, int q_head, int query,
                           std::vector<double>& probabilities, std::vector<double>& out);

// Every decode output of sequence b: [steps, num_q_heads, head_dim], rows computed in parallel.
std::vector<double> reference_decode(const Workload& workload, int b);

// Prefill outputs of sequence b for the given query rows (every row 0..T-1 when query_rows is
// empty): [num_q_heads, rows, head_dim], rows in the order given, computed in parallel.
std::vector<double> reference_prefill(const Workload& workload, int b,
                                      std::span<const int32_t> query_rows);

}  // namespace unisparse
