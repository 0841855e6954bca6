#pragma once
// A naive fp64 attention for the sparse tests (Gaussian workloads: tests/common/random_workload.h).
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/workload/workload.h"
#include "tests/common/random_workload.h"

namespace unisparse::testing {

// softmax(q.k / sqrt(d)) . v over the tokens t < num_tokens with visible(t), entirely in fp64.
inline std::vector<double> naive_attention(const Workload& workload, int b, int kv_head,
                                           const float* query, int num_tokens,
                                           const std::function<bool(int)>& visible) {
  const int d = workload.shape.head_dim;
  std::vector<double> logits(num_tokens, -INFINITY);
  double max_logit = -INFINITY;
  for (int t = 0; t < num_tokens; ++t) {
    if (!visible(t)) continue;
    const float* key = workload.key(b, kv_head, t);
    double dot = 0.0;
    for (int i = 0; i < d; ++i) dot += double{query[i]} * key[i];
    logits[t] = dot / std::sqrt(double(d));
    max_logit = std::max(max_logit, logits[t]);
  }
  std::vector<double> out(d, 0.0);
  double denominator = 0.0;
  for (int t = 0; t < num_tokens; ++t) {
    if (!visible(t)) continue;
    const double weight = std::exp(logits[t] - max_logit);
    denominator += weight;
    const float* value = workload.value(b, kv_head, t);
    for (int i = 0; i < d; ++i) out[i] += weight * value[i];
  }
  for (double& x : out) x = denominator > 0 ? x / denominator : 0.0;
  return out;
}

}  // namespace unisparse::testing
