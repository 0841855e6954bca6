#pragma once
// Helpers shared by the GPU tests: device detection, workloads from the generator, an fp64 attention
// over exact token ranges (the trusted simple path), and relative errors.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "framework/config/point.h"
#include "framework/sparse/plan.h"
#include "framework/workload/generator.h"
#include "framework/workload/workload.h"

namespace unisparse::gpu_test {

inline bool has_cuda_device() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

#define UNISPARSE_SKIP_WITHOUT_GPU() \
  if (!::unisparse::gpu_test::has_cuda_device()) GTEST_SKIP() << "no CUDA device"

// fp64 softmax attention of one query over the tokens of `ranges` of one KV head: out [head_dim].
inline std::vector<double> attention_over_ranges(const Workload& workload, int b, int kv_head,
                                                 std::span<const float> query,
                                                 const std::vector<TokenRange>& ranges) {
  const int head_dim = workload.shape.head_dim;
  const double scale = 1.0 / std::sqrt(double(head_dim));
  std::vector<double> logits;
  std::vector<int> tokens;
  for (const TokenRange& range : ranges)
    for (int t = range.begin; t < range.end; ++t) {
      const float* key = workload.key(b, kv_head, t);
      double dot = 0;
      for (int i = 0; i < head_dim; ++i) dot += double(query[i]) * key[i];
      logits.push_back(dot * scale);
      tokens.push_back(t);
    }
  double max_logit = -INFINITY;
  for (double l : logits) max_logit = std::max(max_logit, l);
  double total = 0;
  std::vector<double> out(head_dim, 0.0);
  for (size_t j = 0; j < logits.size(); ++j) {
    const double weight = std::exp(logits[j] - max_logit);
    total += weight;
    const float* value = workload.value(b, kv_head, tokens[j]);
    for (int i = 0; i < head_dim; ++i) out[i] += weight * value[i];
  }
  for (double& x : out) x /= total;
  return out;
}

// ||a - b|| / ||b||.
template <class A, class B>
double relative_l2(std::span<const A> a, std::span<const B> b) {
  double error = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = double(a[i]) - double(b[i]);
    error += d * d;
    norm += double(b[i]) * double(b[i]);
  }
  return std::sqrt(error / std::max(norm, 1e-300));
}

}  // namespace unisparse::gpu_test
