#pragma once
// Quest key statistics: per logical page, the per-channel maximum and minimum of the keys stored in
// it (after RoPE, before any quantization). The last logical page may be partial; its statistics
// cover the tokens it holds so far and grow as decode tokens are appended.
#include <cstdint>
#include <span>
#include <vector>

#include "framework/core/types.h"
#include "framework/workload/workload.h"

namespace unisparse {

// Statistics of one (sequence, KV head).
class KeyStats {
 public:
  KeyStats(int head_dim, int logical_page_size);

  // Adds the next token's key ([head_dim]) to the logical page it falls in, opening a new logical
  // page when the previous one is full.
  void append(std::span<const float> key);

  int head_dim() const { return head_dim_; }
  int logical_page_size() const { return logical_page_size_; }
  int num_tokens() const { return num_tokens_; }
  int num_logical_pages() const { return static_cast<int>(ceil_div(num_tokens_, logical_page_size_)); }
  std::span<const float> kmax(int logical_page) const;  // [head_dim]
  std::span<const float> kmin(int logical_page) const;  // [head_dim]

  bool operator==(const KeyStats&) const = default;

 private:
  int head_dim_;
  int logical_page_size_;
  int num_tokens_ = 0;
  std::vector<float> kmax_;  // [num_logical_pages, head_dim]
  std::vector<float> kmin_;  // [num_logical_pages, head_dim]
};

// Statistics of every (sequence, KV head) of a workload, kept in step with the decode loop.
class KeyStatsSet {
 public:
  // Statistics of the first num_tokens tokens of every sequence (prefill tokens, then the keys
  // appended at decode steps 0, 1, ...).
  KeyStatsSet(const Workload& workload, int logical_page_size, int num_tokens);
  // Statistics after the prefill only (num_tokens = workload.context_len).
  KeyStatsSet(const Workload& workload, int logical_page_size);

  // Appends the key of token T + step (decode step `step`) of every (sequence, KV head). Steps must
  // be appended in order: the statistics must hold exactly T + step tokens before the call.
  void append_decode_token(const Workload& workload, int step);

  int num_tokens() const { return num_tokens_; }
  const KeyStats& at(int sequence, int kv_head) const {
    return stats_[static_cast<size_t>(sequence) * num_kv_heads_ + kv_head];
  }

 private:
  int num_kv_heads_;
  int num_tokens_ = 0;
  std::vector<KeyStats> stats_;  // [batch, num_kv_heads]
};

}  // namespace unisparse
