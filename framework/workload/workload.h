#pragma once
// Q, K, V of one layer for a batch of sequences, plus the decode queries and keys appended during
// decode, the head layout and what the generator planted. Made by the synthetic generator
// (generator.h) or read from a safetensors trace (trace.h); every backend consumes this.
#include <cstdint>
#include <string>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/core/types.h"

namespace unisparse {

struct Sequence {
  Tensor q;         // [num_q_heads, T, head_dim]   prefill queries (empty in decode-only workloads)
  Tensor k;         // [num_kv_heads, T, head_dim]  prefill keys (after RoPE)
  Tensor v;         // [num_kv_heads, T, head_dim]
  Tensor q_decode;  // [steps, num_q_heads, head_dim]
  Tensor k_decode;  // [steps, num_kv_heads, head_dim]  key appended before query s attends
  Tensor v_decode;  // [steps, num_kv_heads, head_dim]
  // Token positions of every planted needle token (synthetic needle workloads; empty otherwise),
  // per decode step and query head: needle_targets[s][q_head] = tokens that query seeks.
  std::vector<std::vector<std::vector<int32_t>>> needle_targets;  // [steps][num_q_heads][tokens]
  // Token positions of a captured prompt's needle (a trace's needle_positions metadata; empty
  // otherwise). Which rows seek it follows from the dense reference (metrics/accuracy.h).
  std::vector<int32_t> needle_tokens;
};

struct Workload {
  std::string name;
  ModelShape shape;
  HeadLayout heads;
  int context_len = 0;   // T: prefill tokens
  int decode_steps = 0;
  DType dtype = DType::fp16;  // values in every tensor are exactly representable in it
  uint64_t seed = 0;
  std::vector<Sequence> batch;

  int batch_size() const { return static_cast<int>(batch.size()); }
  // Tokens visible to decode query s: the prefill plus the s + 1 tokens appended so far.
  int tokens_at_step(int step) const { return context_len + step + 1; }
  // Key / value of token t (t < context_len from the prefill, else appended at decode step t - T).
  const float* key(int b, int kv_head, int token) const;
  const float* value(int b, int kv_head, int token) const;
};

}  // namespace unisparse
