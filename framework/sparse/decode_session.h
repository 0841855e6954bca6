#pragma once
// Incremental decode of one layer, for callers whose decode queries do not exist in advance (a
// model generating tokens): the layer's KV cache in the plan's KV format, the key statistics and the
// page selector's state, advanced one decode step at a time under the selection rules of README
// "Selection rules". cpu_decode (the CPU backend) replays a workload's precomputed decode through
// this, so the backend and the model share one implementation.
#include <optional>
#include <span>
#include <vector>

#include "framework/core/csr.h"
#include "framework/core/types.h"
#include "framework/sparse/key_stats.h"
#include "framework/sparse/page_selector.h"
#include "framework/sparse/plan.h"
#include "framework/workload/workload.h"

namespace unisparse {

// Wall-clock seconds spent in each phase, summed over the steps run. Phases the plan's mode does
// not run (statistics and selector without page selection) stay 0.
struct DecodePhaseSeconds {
  double stats = 0.0;      // appending decode keys to the statistics
  double selector = 0.0;   // scoring, top-k and reuse of cached selections
  double attention = 0.0;  // attention over the attended tokens of every (sequence, query head)
};

// What the cache stores of one [head_dim] row of a KV head: fp32 keeps it, fp16 / bf16 round it,
// int8 / int4 / fp8 quantize -> dequantize it (kv_quant.h; fp8 with the given scale). In place.
void store_kv_row(std::span<float> row, DType kv_storage, float fp8_scale);

class DecodeSession {
 public:
  // `batch` sequences of one layer with the plan's heads, paging, policy, selector and KV format.
  // reserve_steps: decode steps to allocate for up front (the cache grows past it by doubling).
  DecodeSession(const ModelShape& shape, const DecodePlan& plan, int batch = 1,
                int reserve_steps = 16);

  // The prompt: keys and values [batch, num_kv_heads, num_tokens, head_dim] after RoPE. The cache
  // stores them in the plan's KV format (fp8: one scale per (sequence, KV head) for keys and one for
  // values, e4m3_scale over the prompt's rows; decode rows reuse it); the key statistics are built
  // from the keys as given. Once, before the first step.
  void prefill(std::span<const float> keys, std::span<const float> values, int num_tokens);
  // The same with the cache's image given (stored_keys / stored_values: what the cache returns for
  // keys / values, e.g. kv_as_stored of a workload), not computed here. An image that aliases the
  // keys and values (the same memory) means the cache holds them as they are: no copy is kept.
  void prefill(std::span<const float> keys, std::span<const float> values,
               std::span<const float> stored_keys, std::span<const float> stored_values,
               int num_tokens);

  // Decode step s = steps(): appends token T + s (keys, values [batch, num_kv_heads, head_dim]),
  // then every query ([batch, num_q_heads, head_dim]) attends tokens 0 .. T + s:
  //  * streaming KV heads (uses_streaming_heads(mode)): [0, sink) ∪ [n - local, n), token exact;
  //  * other heads with page selection: the PageSelector's pages (selector run at s % reuse == 0,
  //    the cached pages plus the current last page in between, every page while the context has at
  //    most k pages);
  //  * other heads without page selection: every page.
  // Writes out [batch, num_q_heads, head_dim] and returns the step's selection: rows
  // b * num_q_heads + h, ascending physical page ids (streaming heads: the pages their tokens
  // touch). The reference stays valid until the next call.
  const Csr& step(std::span<const float> queries, std::span<const float> keys,
                  std::span<const float> values, std::span<float> out);
  // The same with the appended rows' cache image given (as prefill's second form).
  const Csr& step(std::span<const float> queries, std::span<const float> keys,
                  std::span<const float> values, std::span<const float> stored_keys,
                  std::span<const float> stored_values, std::span<float> out);

  const ModelShape& shape() const { return shape_; }
  const DecodePlan& plan() const { return plan_; }
  int batch() const { return batch_; }
  int prompt_tokens() const { return keys_.context_len; }
  int steps() const { return steps_; }
  int num_tokens() const { return keys_.context_len + steps_; }  // tokens the cache holds
  bool prefilled() const { return prefilled_; }
  // The key statistics (Quest selection only; nullptr otherwise).
  const KeyStatsSet* key_stats() const { return stats_ ? &*stats_ : nullptr; }
  // Phase seconds summed over the steps run so far.
  const DecodePhaseSeconds& seconds() const { return seconds_; }
  // What the attention reads of token t of sequence b, KV head kv_head ([head_dim]): the stored
  // image (plan's KV format).
  std::span<const float> stored_key(int b, int kv_head, int token) const;
  std::span<const float> stored_value(int b, int kv_head, int token) const;

 private:
  void check_sizes(std::span<const float> values, int64_t expected, const char* what) const;
  void reserve(int steps);
  void build_statistics();
  const Workload& attended() const { return stored_ ? *stored_ : keys_; }

  ModelShape shape_;
  DecodePlan plan_;
  int batch_;
  bool select_pages_;
  bool prefilled_ = false;
  int steps_ = 0;
  // The cache as given, the statistics' and the oracle's keys: prefill k / v [kv_heads, T, d],
  // decode rows q_decode [capacity, q_heads, d], k_decode / v_decode [capacity, kv_heads, d].
  Workload keys_;
  // The cache as stored when that differs from keys_ (quantized or rounded formats), same layout
  // without queries.
  std::optional<Workload> stored_;
  // fp8 scales: [batch * num_kv_heads] for keys and for values.
  std::vector<float> key_scales_, value_scales_;
  std::vector<bool> streaming_kv_head_;  // [num_kv_heads]
  std::optional<KeyStatsSet> stats_;
  std::optional<PageSelector> selector_;
  Csr selection_;
  DecodePhaseSeconds seconds_;
};

}  // namespace unisparse
