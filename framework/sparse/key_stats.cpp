#include "framework/sparse/key_stats.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace unisparse {

KeyStats::KeyStats(int head_dim, int logical_page_size)
    : head_dim_(head_dim), logical_page_size_(logical_page_size) {
  if (head_dim <= 0 || logical_page_size <= 0)
    throw std::invalid_argument("KeyStats: head_dim and logical_page_size must be positive");
}

void KeyStats::append(std::span<const float> key) {
  if (static_cast<int>(key.size()) != head_dim_)
    throw std::invalid_argument("KeyStats::append: key has " + std::to_string(key.size()) +
                                " channels, expected " + std::to_string(head_dim_));
  if (num_tokens_ % logical_page_size_ == 0) {
    // The token opens a logical page: its key is both the maximum and the minimum so far.
    kmax_.insert(kmax_.end(), key.begin(), key.end());
    kmin_.insert(kmin_.end(), key.begin(), key.end());
  } else {
    float* page_max = kmax_.data() + kmax_.size() - head_dim_;
    float* page_min = kmin_.data() + kmin_.size() - head_dim_;
    for (int i = 0; i < head_dim_; ++i) {
      page_max[i] = std::max(page_max[i], key[i]);
      page_min[i] = std::min(page_min[i], key[i]);
    }
  }
  ++num_tokens_;
}

std::span<const float> KeyStats::kmax(int logical_page) const {
  return {kmax_.data() + static_cast<size_t>(logical_page) * head_dim_,
          static_cast<size_t>(head_dim_)};
}

std::span<const float> KeyStats::kmin(int logical_page) const {
  return {kmin_.data() + static_cast<size_t>(logical_page) * head_dim_,
          static_cast<size_t>(head_dim_)};
}

KeyStatsSet::KeyStatsSet(const Workload& workload, int logical_page_size, int num_tokens)
    : num_kv_heads_(workload.shape.num_kv_heads), num_tokens_(num_tokens) {
  const int max_tokens = workload.context_len + workload.decode_steps;
  if (num_tokens < 0 || num_tokens > max_tokens)
    throw std::invalid_argument("KeyStatsSet: " + std::to_string(num_tokens) +
                                " tokens requested, the workload holds " +
                                std::to_string(max_tokens));
  const int head_dim = workload.shape.head_dim;
  stats_.reserve(static_cast<size_t>(workload.batch_size()) * num_kv_heads_);
  for (int b = 0; b < workload.batch_size(); ++b)
    for (int kv = 0; kv < num_kv_heads_; ++kv) {
      KeyStats& stats = stats_.emplace_back(head_dim, logical_page_size);
      for (int t = 0; t < num_tokens; ++t)
        stats.append({workload.key(b, kv, t), static_cast<size_t>(head_dim)});
    }
}

KeyStatsSet::KeyStatsSet(const Workload& workload, int logical_page_size)
    : KeyStatsSet(workload, logical_page_size, workload.context_len) {}

void KeyStatsSet::append_decode_token(const Workload& workload, int step) {
  const int token = workload.context_len + step;
  if (token != num_tokens_)
    throw std::logic_error("KeyStatsSet: decode step " + std::to_string(step) + " appends token " +
                           std::to_string(token) + " but the statistics hold " +
                           std::to_string(num_tokens_) + " tokens");
  const auto head_dim = static_cast<size_t>(workload.shape.head_dim);
  for (int b = 0; b < workload.batch_size(); ++b)
    for (int kv = 0; kv < num_kv_heads_; ++kv)
      stats_[static_cast<size_t>(b) * num_kv_heads_ + kv].append(
          {workload.key(b, kv, token), head_dim});
  ++num_tokens_;
}

}  // namespace unisparse
