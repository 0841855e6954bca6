#pragma once
// Gaussian workloads and a naive fp64 attention for the sparse tests.
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/workload/workload.h"

namespace unisparse::testing {

inline void fill_gaussian(Tensor& tensor, std::mt19937_64& rng, float stddev = 1.0f) {
  std::normal_distribution<float> normal(0.0f, stddev);
  for (float& x : tensor.storage()) x = normal(rng);
}

// Prefill Q/K/V of context_len tokens and decode Q/K/V of `steps` steps, all N(0, 1).
inline Workload random_workload(ModelShape shape, int context_len, int steps, int batch,
                                uint64_t seed) {
  Workload workload;
  workload.name = "gaussian";
  workload.shape = shape;
  workload.heads = HeadLayout::all_dense(shape.num_kv_heads);
  workload.context_len = context_len;
  workload.decode_steps = steps;
  workload.dtype = DType::fp32;
  workload.seed = seed;
  std::mt19937_64 rng(seed);
  const int64_t d = shape.head_dim;
  for (int b = 0; b < batch; ++b) {
    Sequence& seq = workload.batch.emplace_back();
    seq.q = Tensor({shape.num_q_heads, context_len, d});
    seq.k = Tensor({shape.num_kv_heads, context_len, d});
    seq.v = Tensor({shape.num_kv_heads, context_len, d});
    seq.q_decode = Tensor({steps, shape.num_q_heads, d});
    seq.k_decode = Tensor({steps, shape.num_kv_heads, d});
    seq.v_decode = Tensor({steps, shape.num_kv_heads, d});
    for (Tensor* tensor : {&seq.q, &seq.k, &seq.v, &seq.q_decode, &seq.k_decode, &seq.v_decode})
      fill_gaussian(*tensor, rng);
  }
  return workload;
}

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
