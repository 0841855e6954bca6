#pragma once
// Small hand-built workloads for the CPU tests: Gaussian Q/K/V with a fixed seed,
// every tensor filled directly (no generator).
#include <cstdint>
#include <random>

#include "framework/workload/workload.h"

namespace unisparse::testing {

inline void fill_gaussian(Tensor& tensor, std::mt19937_64& generator, double stddev) {
  std::normal_distribution<float> normal(0.0f, static_cast<float>(stddev));
  for (float& value : tensor.storage()) value = normal(generator);
}

// query_scale > 1 makes the softmax peakier than the diffuse attention of unit Gaussians.
inline Workload random_workload(ModelShape shape, int context_len, int decode_steps, int batch,
                                uint64_t seed, double query_scale = 2.0) {
  Workload workload;
  workload.name = "random";
  workload.shape = shape;
  workload.heads = HeadLayout::all_dense(shape.num_kv_heads);
  workload.context_len = context_len;
  workload.decode_steps = decode_steps;
  workload.dtype = DType::fp32;
  workload.seed = seed;
  std::mt19937_64 generator(seed);
  const int64_t q_heads = shape.num_q_heads, kv_heads = shape.num_kv_heads, d = shape.head_dim;
  for (int b = 0; b < batch; ++b) {
    Sequence sequence;
    sequence.q = Tensor({q_heads, context_len, d});
    sequence.k = Tensor({kv_heads, context_len, d});
    sequence.v = Tensor({kv_heads, context_len, d});
    sequence.q_decode = Tensor({decode_steps, q_heads, d});
    sequence.k_decode = Tensor({decode_steps, kv_heads, d});
    sequence.v_decode = Tensor({decode_steps, kv_heads, d});
    fill_gaussian(sequence.q, generator, query_scale);
    fill_gaussian(sequence.k, generator, 1.0);
    fill_gaussian(sequence.v, generator, 1.0);
    fill_gaussian(sequence.q_decode, generator, query_scale);
    fill_gaussian(sequence.k_decode, generator, 1.0);
    fill_gaussian(sequence.v_decode, generator, 1.0);
    workload.batch.push_back(std::move(sequence));
  }
  return workload;
}

}  // namespace unisparse::testing
