#include "framework/reference/dense_attention.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "framework/core/parallel.h"

namespace unisparse {
namespace {

using FloatRow = Eigen::Map<const Eigen::VectorXf>;
using FloatRows =
    Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

// Key / value rows are converted to double a block of tokens at a time, so that the conversion and
// the matrix-vector products vectorise (2.3x faster than row by row at T = 32k, d = 128).
constexpr int kTokensPerBlock = 256;

// Calls body(first_token, rows) for consecutive blocks of tokens [0, num_tokens) whose rows are
// contiguous in memory: prefill tokens of one KV head are, decode tokens (one per step) are not.
template <class RowOf, class Body>
void for_each_block(const Workload& workload, int num_tokens, RowOf row_of, Body body) {
  const int head_dim = workload.shape.head_dim;
  const int prefill_tokens = std::min(num_tokens, workload.context_len);
  for (int first = 0; first < prefill_tokens; first += kTokensPerBlock) {
    const int count = std::min(kTokensPerBlock, prefill_tokens - first);
    body(first, FloatRows(row_of(first), count, head_dim));
  }
  for (int token = prefill_tokens; token < num_tokens; ++token)
    body(token, FloatRows(row_of(token), 1, head_dim));
}

// softmax(q . K[0..num_tokens) / sqrt(d)) V of KV head kv_head of sequence b, in fp64.
void attend_prefix(const Workload& workload, int b, int kv_head, const float* query, int num_tokens,
                   std::vector<double>& probabilities, std::vector<double>& out) {
  const int head_dim = workload.shape.head_dim;
  const Eigen::VectorXd scaled_query =
      FloatRow(query, head_dim).cast<double>() / std::sqrt(static_cast<double>(head_dim));
  const auto key_row = [&](int token) { return workload.key(b, kv_head, token); };
  const auto value_row = [&](int token) { return workload.value(b, kv_head, token); };

  probabilities.resize(num_tokens);
  Eigen::Map<Eigen::VectorXd> weights(probabilities.data(), num_tokens);
  for_each_block(workload, num_tokens, key_row, [&](int first, const FloatRows& keys) {
    weights.segment(first, keys.rows()).noalias() = keys.cast<double>() * scaled_query;
  });
  weights = (weights.array() - weights.maxCoeff()).exp();
  weights /= weights.sum();

  Eigen::VectorXd accumulated = Eigen::VectorXd::Zero(head_dim);
  for_each_block(workload, num_tokens, value_row, [&](int first, const FloatRows& values) {
    accumulated.noalias() +=
        values.cast<double>().transpose() * weights.segment(first, values.rows());
  });
  out.assign(accumulated.data(), accumulated.data() + head_dim);
}

}  // namespace

void reference_decode_row(const Workload& workload, int b, int step, int q_head,
                          std::vector<double>& probabilities, std::vector<double>& out) {
  const float* query = workload.batch[b].q_decode.row({step, q_head});
  attend_prefix(workload, b, workload.shape.kv_head_of(q_head), query,
                workload.tokens_at_step(step), probabilities, out);
}

void reference_prefill_row(const Workload& workload, int b, int q_head, int query,
                           std::vector<double>& probabilities, std::vector<double>& out) {
  const float* query_row = workload.batch[b].q.row({q_head, query});
  attend_prefix(workload, b, workload.shape.kv_head_of(q_head), query_row, query + 1, probabilities,
                out);
}

std::vector<double> reference_decode(const Workload& workload, int b) {
  const int num_q_heads = workload.shape.num_q_heads;
  const int head_dim = workload.shape.head_dim;
  std::vector<double> outputs(static_cast<size_t>(workload.decode_steps) * num_q_heads * head_dim);
  parallel_for(int64_t{workload.decode_steps} * num_q_heads, [&](int64_t row) {
    std::vector<double> probabilities, out;
    reference_decode_row(workload, b, static_cast<int>(row / num_q_heads),
                         static_cast<int>(row % num_q_heads), probabilities, out);
    std::copy(out.begin(), out.end(), outputs.begin() + row * head_dim);
  });
  return outputs;
}

std::vector<double> reference_prefill(const Workload& workload, int b,
                                      std::span<const int32_t> query_rows) {
  std::vector<int32_t> every_row;
  if (query_rows.empty()) {
    every_row.resize(workload.context_len);
    std::iota(every_row.begin(), every_row.end(), 0);
    query_rows = every_row;
  }
  const int64_t num_rows = static_cast<int64_t>(query_rows.size());
  const int head_dim = workload.shape.head_dim;
  std::vector<double> outputs(
      static_cast<size_t>(workload.shape.num_q_heads * num_rows * head_dim));
  parallel_for(workload.shape.num_q_heads * num_rows, [&](int64_t row) {
    std::vector<double> probabilities, out;
    reference_prefill_row(workload, b, static_cast<int>(row / num_rows), query_rows[row % num_rows],
                          probabilities, out);
    std::copy(out.begin(), out.end(), outputs.begin() + row * head_dim);
  });
  return outputs;
}

}  // namespace unisparse
