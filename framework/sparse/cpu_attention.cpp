#include "framework/sparse/cpu_attention.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <vector>

namespace unisparse {

namespace {

// q.k in fp32 over eight interleaved partial sums, which the compiler can keep in vector lanes (a
// single running sum would serialise every add).
float dot(const float* query, const float* key, size_t head_dim) {
  constexpr size_t kLanes = 8;
  std::array<float, kLanes> partial{};
  size_t i = 0;
  for (; i + kLanes <= head_dim; i += kLanes)
    for (size_t lane = 0; lane < kLanes; ++lane) partial[lane] += query[i + lane] * key[i + lane];
  float sum = 0.0f;
  for (float p : partial) sum += p;
  for (; i < head_dim; ++i) sum += query[i] * key[i];
  return sum;
}

// Calls visit(key, value) for every token of `ranges` in order. Tokens of a range that lie on one
// side of the prefill boundary are evenly strided in the workload's tensors: prefill K/V rows are
// [num_kv_heads, T, head_dim] (stride head_dim), decode rows [steps, num_kv_heads, head_dim].
template <class Visit>
void for_each_token(std::span<const TokenRange> ranges, const Workload& workload, int b, int kv_head,
                    Visit&& visit) {
  const int64_t head_dim = workload.shape.head_dim;
  for (const TokenRange& range : ranges) {
    int t = range.begin;
    while (t < range.end) {
      const bool prefill = t < workload.context_len;
      const int segment_end = prefill ? std::min(range.end, workload.context_len) : range.end;
      const int64_t stride = prefill ? head_dim : head_dim * workload.shape.num_kv_heads;
      const float* key = workload.key(b, kv_head, t);
      const float* value = workload.value(b, kv_head, t);
      for (; t < segment_end; ++t, key += stride, value += stride) visit(key, value);
    }
  }
}

// The scaled fp32 logits q.k_t / sqrt(head_dim) of the tokens of `ranges`, in range order, and
// their maximum (-inf without tokens).
float attention_logits(std::span<const float> query, std::span<const TokenRange> ranges,
                       const Workload& workload, int b, int kv_head, std::vector<float>& logits) {
  const size_t head_dim = query.size();
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  size_t num_attended = 0;
  for (const TokenRange& range : ranges) num_attended += range.size();
  logits.clear();
  logits.reserve(num_attended);
  float max_logit = -std::numeric_limits<float>::infinity();
  for_each_token(ranges, workload, b, kv_head, [&](const float* key, const float*) {
    logits.push_back(dot(query.data(), key, head_dim) * scale);
    max_logit = std::max(max_logit, logits.back());
  });
  return max_logit;
}

}  // namespace

void attend_token_ranges(std::span<const float> query, std::span<const TokenRange> ranges,
                         const Workload& workload, int b, int kv_head, std::span<float> out) {
  const size_t head_dim = query.size();
  std::vector<float> logits;  // [tokens of ranges], in range order
  const float max_logit = attention_logits(query, ranges, workload, b, kv_head, logits);

  std::vector<double> accumulator(head_dim, 0.0);
  double denominator = 0.0;
  size_t index = 0;
  for_each_token(ranges, workload, b, kv_head, [&](const float*, const float* value) {
    const double weight = std::exp(static_cast<double>(logits[index++]) - max_logit);
    denominator += weight;
    for (size_t i = 0; i < head_dim; ++i) accumulator[i] += weight * value[i];
  });
  for (size_t i = 0; i < head_dim; ++i)
    out[i] = denominator > 0.0 ? static_cast<float>(accumulator[i] / denominator) : 0.0f;
}

std::vector<double> attention_weights(std::span<const float> query,
                                      std::span<const TokenRange> ranges, const Workload& workload,
                                      int b, int kv_head) {
  std::vector<float> logits;
  const float max_logit = attention_logits(query, ranges, workload, b, kv_head, logits);
  std::vector<double> weights(logits.size());
  double denominator = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) {
    weights[i] = std::exp(static_cast<double>(logits[i]) - max_logit);
    denominator += weights[i];
  }
  for (double& weight : weights) weight /= denominator;
  return weights;
}

}  // namespace unisparse
