#pragma once
// Helpers of the CUDA prefill tests: workloads with attention sinks, mixed-mode plans, an fp64
// attention over exactly the tokens a plan makes visible (the trusted simple path), the check of a
// run against it, and a scoped choice of the prefill kernel path (UNISPARSE_PREFILL_KERNEL).
#include <cuda_runtime.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "framework/backend/backend.h"
#include "framework/core/dtype.h"
#include "framework/core/parallel.h"
#include "framework/sparse/plan.h"
#include "framework/workload/workload.h"
#include "kernels/prefill/prefill_kernel_path.h"

namespace unisparse::prefill_test {

inline bool has_cuda_device() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

// Random Q/K/V rounded to the dtype, with attention sinks (the first keys share a direction every
// query leans on) so that the softmax is not diffuse.
inline Workload make_workload(int num_q_heads, int num_kv_heads, int head_dim, int seq_len,
                              DType dtype, int batch, uint64_t seed) {
  Workload workload;
  workload.name = "prefill_test";
  workload.shape = {num_q_heads, num_kv_heads, head_dim};
  workload.heads = HeadLayout::all_dense(num_kv_heads);
  workload.context_len = seq_len;
  workload.dtype = dtype;
  workload.seed = seed;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> sink_direction(head_dim);
  for (float& x : sink_direction) x = normal(rng) * 0.5f;
  for (int b = 0; b < batch; ++b) {
    Sequence sequence;
    sequence.q = Tensor({num_q_heads, seq_len, head_dim});
    sequence.k = Tensor({num_kv_heads, seq_len, head_dim});
    sequence.v = Tensor({num_kv_heads, seq_len, head_dim});
    for (Tensor* tensor : {&sequence.q, &sequence.k, &sequence.v})
      for (float& x : tensor->storage()) x = normal(rng);
    for (int h = 0; h < num_q_heads; ++h)
      for (int t = 0; t < seq_len; ++t)
        for (int d = 0; d < head_dim; ++d) sequence.q.at({h, t, d}) += sink_direction[d];
    for (int h = 0; h < num_kv_heads; ++h)
      for (int t = 0; t < std::min(seq_len, 4); ++t)
        for (int d = 0; d < head_dim; ++d) sequence.k.at({h, t, d}) += 4.f * sink_direction[d];
    for (Tensor* tensor : {&sequence.q, &sequence.k, &sequence.v})
      round_to_dtype(tensor->storage(), dtype);
    workload.batch.push_back(std::move(sequence));
  }
  return workload;
}

inline bool key_visible(const PrefillPlan& plan, int q_head, int num_q_blocks, int query, int key) {
  const PrefillHeadMode mode = plan.head_mode[q_head];
  if (mode == PrefillHeadMode::block_list) {
    bool listed = false;
    for (int32_t block : plan.blocks.row(q_head * num_q_blocks + query / plan.block_size))
      listed |= block == key / plan.block_size;
    if (!listed) return false;
  }
  return plan.visible(mode, query, key);
}

// fp64 attention of one row over its visible keys; zeros when none is visible.
inline std::vector<double> reference_row(const Workload& workload, const PrefillPlan& plan, int b,
                                         int q_head, int query) {
  const int head_dim = workload.shape.head_dim, kv_head = workload.shape.kv_head_of(q_head);
  const int num_q_blocks = static_cast<int>(ceil_div(workload.context_len, plan.block_size));
  const Sequence& sequence = workload.batch[b];
  const float* q = sequence.q.row({q_head, query});
  std::vector<int> keys;
  std::vector<double> logits;
  for (int key = 0; key <= query; ++key) {
    if (!key_visible(plan, q_head, num_q_blocks, query, key)) continue;
    const float* k = sequence.k.row({kv_head, key});
    double dot = 0;
    for (int d = 0; d < head_dim; ++d) dot += double{q[d]} * k[d];
    keys.push_back(key);
    logits.push_back(dot / std::sqrt(double(head_dim)));
  }
  std::vector<double> out(head_dim, 0.0);
  if (keys.empty()) return out;
  const double max_logit = *std::max_element(logits.begin(), logits.end());
  double total = 0;
  for (double& logit : logits) total += (logit = std::exp(logit - max_logit));
  for (size_t i = 0; i < keys.size(); ++i) {
    const float* v = sequence.v.row({kv_head, keys[i]});
    for (int d = 0; d < head_dim; ++d) out[d] += logits[i] / total * v[d];
  }
  return out;
}

// Query rows to check: all of them for short sequences, else the block edges and a random sample.
inline std::vector<int> rows_to_check(int seq_len, int block_size, uint64_t seed) {
  std::vector<int> rows;
  if (seq_len <= 1100) {
    for (int i = 0; i < seq_len; ++i) rows.push_back(i);
    return rows;
  }
  for (int edge : {0, 1, block_size - 1, block_size, seq_len - 2, seq_len - 1}) rows.push_back(edge);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> any_row(0, seq_len - 1);
  for (int i = 0; i < 120; ++i) rows.push_back(any_row(rng));
  return rows;
}

// Checks every output of the checked rows: no NaN anywhere, rel L2 per head and per row.
inline void expect_matches_reference(const Workload& workload, const PrefillPlan& plan,
                                     const PrefillRun& run, double tolerance) {
  const int num_q_heads = workload.shape.num_q_heads, head_dim = workload.shape.head_dim;
  ASSERT_EQ(run.out.size(), workload.batch.size());
  for (int b = 0; b < workload.batch_size(); ++b) {
    const Tensor& out = run.out[b];
    ASSERT_EQ(out.shape(), (std::vector<int64_t>{num_q_heads, workload.context_len, head_dim}));
    int64_t nan_count = 0;
    for (float x : out.storage()) nan_count += std::isnan(x);
    ASSERT_EQ(nan_count, 0) << "sequence " << b << ": NaN or unwritten outputs";
    const std::vector<int> rows = rows_to_check(workload.context_len, plan.block_size, 17 + b);
    std::vector<double> head_error(num_q_heads), head_norm(num_q_heads), worst_row(num_q_heads);
    std::vector<int> worst_query(num_q_heads);
    parallel_for(num_q_heads, [&](int64_t h) {
      for (int query : rows) {
        const std::vector<double> expected = reference_row(workload, plan, b, int(h), query);
        const float* got = out.row({h, query});
        double error = 0, norm = 0;
        for (int d = 0; d < head_dim; ++d) {
          error += (got[d] - expected[d]) * (got[d] - expected[d]);
          norm += expected[d] * expected[d];
        }
        head_error[h] += error;
        head_norm[h] += norm;
        const double row_error = norm > 0 ? std::sqrt(error / norm) : std::sqrt(error);
        if (row_error > worst_row[h]) worst_row[h] = row_error, worst_query[h] = query;
      }
    });
    for (int h = 0; h < num_q_heads; ++h) {
      const double head_rel = std::sqrt(head_error[h] / std::max(head_norm[h], 1e-300));
      EXPECT_LE(head_rel, tolerance) << "sequence " << b << " head " << h << " (mode "
                                     << int(plan.head_mode[h]) << ")";
      EXPECT_LE(worst_row[h], 2 * tolerance)
          << "sequence " << b << " head " << h << " (mode " << int(plan.head_mode[h])
          << "): worst row " << worst_query[h];
    }
  }
}

inline RunOptions correctness_only() {
  RunOptions options;
  options.measure = false;
  return options;
}

// Heads cycle through dense causal, streaming and block list; block-list rows keep a random subset
// of the causal blocks (the diagonal block most of the time, and some rows are empty).
inline PrefillPlan mixed_plan(int num_q_heads, int seq_len, int block_size, int sink, int local,
                              uint64_t seed) {
  PrefillPlan plan;
  plan.block_size = block_size;
  plan.sink_tokens = sink;
  plan.local_tokens = local;
  const PrefillHeadMode cycle[] = {PrefillHeadMode::dense_causal, PrefillHeadMode::streaming,
                                   PrefillHeadMode::block_list};
  for (int h = 0; h < num_q_heads; ++h) plan.head_mode.push_back(cycle[h % 3]);
  const int num_q_blocks = static_cast<int>(ceil_div(seq_len, block_size));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0, 1);
  for (int h = 0; h < num_q_heads; ++h)
    for (int q_block = 0; q_block < num_q_blocks; ++q_block) {
      std::vector<int32_t> blocks;
      if (plan.head_mode[h] == PrefillHeadMode::block_list)
        for (int kv_block = 0; kv_block <= q_block; ++kv_block)
          if (uniform(rng) < (kv_block == q_block ? 0.9 : 0.4)) blocks.push_back(kv_block);
      plan.blocks.append_row(blocks);
    }
  return plan;
}

// Sets UNISPARSE_PREFILL_KERNEL for the scope and restores what was there.
class ScopedPrefillKernel {
 public:
  explicit ScopedPrefillKernel(const std::string& value) {
    if (const char* before = std::getenv(cuda::kPrefillKernelVariable)) before_ = before;
    setenv(cuda::kPrefillKernelVariable, value.c_str(), 1);
  }
  ~ScopedPrefillKernel() {
    if (before_)
      setenv(cuda::kPrefillKernelVariable, before_->c_str(), 1);
    else
      unsetenv(cuda::kPrefillKernelVariable);
  }
  ScopedPrefillKernel(const ScopedPrefillKernel&) = delete;
  ScopedPrefillKernel& operator=(const ScopedPrefillKernel&) = delete;

 private:
  std::optional<std::string> before_;
};

// Empty when the current device runs the sm_90a kernel, else why not (for the skip message).
inline std::string sm90_unavailable_here() {
  int device = 0, major = 0, minor = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess)
    return "the device's compute capability cannot be read";
  return cuda::sm90_prefill_unavailable_reason(major, minor, "");
}

}  // namespace unisparse::prefill_test
