#include "framework/reference/dense_attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "tests/common/random_workload.h"

namespace unisparse {
namespace {

constexpr ModelShape kShape{6, 2, 24};  // GQA: 3 query heads per KV head
constexpr int kContext = 63;
constexpr int kSteps = 5;
constexpr int kBatch = 2;

// Softmax attention written as plain loops over explicit key/value rows, the trusted simpler path.
struct NaiveRow {
  std::vector<double> probabilities;
  std::vector<double> out;
};

NaiveRow naive_attention(const float* query, const std::vector<const float*>& keys,
                         const std::vector<const float*>& values, int head_dim) {
  NaiveRow row;
  std::vector<double> logits;
  for (const float* key : keys) {
    double dot = 0;
    for (int i = 0; i < head_dim; ++i) dot += static_cast<double>(query[i]) * key[i];
    logits.push_back(dot / std::sqrt(static_cast<double>(head_dim)));
  }
  double max_logit = logits[0];
  for (double logit : logits) max_logit = std::max(max_logit, logit);
  double sum = 0;
  for (double logit : logits) sum += std::exp(logit - max_logit);
  row.out.assign(head_dim, 0.0);
  for (size_t t = 0; t < keys.size(); ++t) {
    const double p = std::exp(logits[t] - max_logit) / sum;
    row.probabilities.push_back(p);
    for (int i = 0; i < head_dim; ++i) row.out[i] += p * values[t][i];
  }
  return row;
}

NaiveRow naive_decode(const Workload& w, int b, int step, int q_head) {
  const Sequence& sequence = w.batch[b];
  const int kv_head = q_head / (w.shape.num_q_heads / w.shape.num_kv_heads);
  std::vector<const float*> keys, values;
  for (int t = 0; t < w.context_len; ++t) {
    keys.push_back(&sequence.k.storage()[(kv_head * w.context_len + t) * w.shape.head_dim]);
    values.push_back(&sequence.v.storage()[(kv_head * w.context_len + t) * w.shape.head_dim]);
  }
  for (int s = 0; s <= step; ++s) {
    keys.push_back(
        &sequence.k_decode.storage()[(s * w.shape.num_kv_heads + kv_head) * w.shape.head_dim]);
    values.push_back(
        &sequence.v_decode.storage()[(s * w.shape.num_kv_heads + kv_head) * w.shape.head_dim]);
  }
  const float* query =
      &sequence.q_decode.storage()[(step * w.shape.num_q_heads + q_head) * w.shape.head_dim];
  return naive_attention(query, keys, values, w.shape.head_dim);
}

NaiveRow naive_prefill(const Workload& w, int b, int q_head, int query) {
  const Sequence& sequence = w.batch[b];
  const int kv_head = q_head / (w.shape.num_q_heads / w.shape.num_kv_heads);
  std::vector<const float*> keys, values;
  for (int t = 0; t <= query; ++t) {
    keys.push_back(&sequence.k.storage()[(kv_head * w.context_len + t) * w.shape.head_dim]);
    values.push_back(&sequence.v.storage()[(kv_head * w.context_len + t) * w.shape.head_dim]);
  }
  const float* q = &sequence.q.storage()[(q_head * w.context_len + query) * w.shape.head_dim];
  return naive_attention(q, keys, values, w.shape.head_dim);
}

void expect_near_all(const std::vector<double>& actual, const std::vector<double>& expected,
                     double tolerance, const char* what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i)
    ASSERT_NEAR(actual[i], expected[i], tolerance) << what << " at " << i;
}

TEST(DenseAttention, DecodeRowsMatchNaiveLoops) {
  const Workload w = testing::random_workload(kShape, kContext, kSteps, kBatch, 11);
  std::vector<double> probabilities, out;
  for (int b = 0; b < kBatch; ++b)
    for (int step = 0; step < kSteps; ++step)
      for (int q_head = 0; q_head < kShape.num_q_heads; ++q_head) {
        reference_decode_row(w, b, step, q_head, probabilities, out);
        const NaiveRow expected = naive_decode(w, b, step, q_head);
        ASSERT_EQ(probabilities.size(), static_cast<size_t>(kContext + step + 1));
        expect_near_all(probabilities, expected.probabilities, 1e-12, "probabilities");
        expect_near_all(out, expected.out, 1e-12, "out");
        EXPECT_NEAR(std::accumulate(probabilities.begin(), probabilities.end(), 0.0), 1.0, 1e-12);
      }
}

TEST(DenseAttention, PrefillRowsMatchNaiveLoops) {
  const Workload w = testing::random_workload(kShape, kContext, kSteps, kBatch, 12);
  std::vector<double> probabilities, out;
  for (int b = 0; b < kBatch; ++b)
    for (int q_head = 0; q_head < kShape.num_q_heads; ++q_head)
      for (int query = 0; query < kContext; ++query) {
        reference_prefill_row(w, b, q_head, query, probabilities, out);
        const NaiveRow expected = naive_prefill(w, b, q_head, query);
        ASSERT_EQ(probabilities.size(), static_cast<size_t>(query + 1));
        expect_near_all(probabilities, expected.probabilities, 1e-12, "probabilities");
        expect_near_all(out, expected.out, 1e-12, "out");
        EXPECT_NEAR(std::accumulate(probabilities.begin(), probabilities.end(), 0.0), 1.0, 1e-12);
      }
}

TEST(DenseAttention, DominantKeySelectsItsValue) {
  Workload w = testing::random_workload({1, 1, 8}, 9, 1, 1, 13);
  // Query and key 4 aligned with a logit of 200 / sqrt(8): key 4 takes essentially all the mass.
  Sequence& sequence = w.batch[0];
  for (int i = 0; i < 8; ++i) {
    sequence.q_decode.at({0, 0, i}) = i == 0 ? 20.0f : 0.0f;
    sequence.k.at({0, 4, i}) = i == 0 ? 10.0f : 0.0f;
  }
  std::vector<double> probabilities, out;
  reference_decode_row(w, 0, 0, 0, probabilities, out);
  EXPECT_NEAR(probabilities[4], 1.0, 1e-12);
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(out[i], sequence.v.at({0, 4, i}), 1e-9);
}

TEST(DenseAttention, BatchedDecodeEqualsRows) {
  const Workload w = testing::random_workload(kShape, kContext, kSteps, kBatch, 14);
  const std::vector<double> outputs = reference_decode(w, 1);
  ASSERT_EQ(outputs.size(), static_cast<size_t>(kSteps * kShape.num_q_heads * kShape.head_dim));
  std::vector<double> probabilities, out;
  for (int step = 0; step < kSteps; ++step)
    for (int q_head = 0; q_head < kShape.num_q_heads; ++q_head) {
      reference_decode_row(w, 1, step, q_head, probabilities, out);
      const size_t offset = (step * kShape.num_q_heads + q_head) * kShape.head_dim;
      for (int i = 0; i < kShape.head_dim; ++i) ASSERT_EQ(outputs[offset + i], out[i]);
    }
}

TEST(DenseAttention, BatchedPrefillComputesTheGivenRowsInOrder) {
  const Workload w = testing::random_workload(kShape, kContext, kSteps, kBatch, 15);
  const std::vector<int32_t> rows{62, 0, 31};
  const std::vector<double> sampled = reference_prefill(w, 0, rows);
  const std::vector<double> every = reference_prefill(w, 0, {});
  const int d = kShape.head_dim;
  ASSERT_EQ(sampled.size(), static_cast<size_t>(kShape.num_q_heads * rows.size() * d));
  ASSERT_EQ(every.size(), static_cast<size_t>(kShape.num_q_heads * kContext * d));
  std::vector<double> probabilities, out;
  for (int q_head = 0; q_head < kShape.num_q_heads; ++q_head)
    for (size_t r = 0; r < rows.size(); ++r) {
      reference_prefill_row(w, 0, q_head, rows[r], probabilities, out);
      for (int i = 0; i < d; ++i) {
        ASSERT_EQ(sampled[(q_head * rows.size() + r) * d + i], out[i]);
        ASSERT_EQ(every[(q_head * kContext + rows[r]) * d + i], out[i]);
      }
    }
}

}  // namespace
}  // namespace unisparse
