#pragma once
// The GPU state of one decode run (DESIGN.md §1 decode-step semantics): the paged KV pools filled
// from the prefill, the decode inputs, the cached page selection, and the launches of one step.
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "framework/backend/backend.h"
#include "framework/core/csr.h"
#include "framework/core/tensor.h"
#include "framework/sparse/plan.h"
#include "framework/workload/workload.h"
#include "kernels/cache/paged_kv_cache.h"
#include "kernels/common/device_buffer.h"
#include "kernels/decode/decode_attention.h"
#include "kernels/prefill/device_prefill.h"

namespace unisparse::cuda {

// Substrings of kernel names and the phase they time. Whole kernel names: the mangled names carry
// the file's anonymous namespace ("..._decode_attention_cu_..."), which a shorter substring would
// also match in the merge kernel's name.
inline const std::map<std::string, std::string>& decode_phase_of_kernel() {
  static const std::map<std::string, std::string> phases{{"append_kernel", "stats"},
                                                         {"page_scores_kernel", "selector"},
                                                         {"topk_kernel", "topk"},
                                                         {"decode_attention_kernel", "attention"},
                                                         {"decode_attention_mma_kernel", "attention"},
                                                         {"decode_merge_kernel", "merge"}};
  return phases;
}

class DecodeRunner {
 public:
  // Fills the pools with the prompt as plan.cache_fill says: uploads its K/V, or runs the prefill over
  // it and writes the pools from the prefill's device K/V (timed with options.measure). Throws
  // Unsupported for what no kernel is built for. NVTX ranges are labelled options.label.
  DecodeRunner(const Workload& workload, const DecodePlan& plan, cudaStream_t stream,
               const RunOptions& options);

  // Enqueues decode step `step`: append token T+step, select pages when run_selector, attend, merge.
  // No host synchronisation.
  void enqueue_step(int step, bool run_selector);
  bool selector_runs_at(int step) const {
    return uses_selection_ && step % plan_.policy.reuse_interval == 0;
  }
  bool uses_selection() const { return uses_selection_; }
  // cache_fill=prefill with options.measure: median time of the prefill that filled the pools (its
  // attention kernel and the pool writes), microseconds; kNotMeasured otherwise.
  double prefill_us() const { return prefill_us_; }
  // Pages attended at `step` by every (b, q head), rows b * num_q_heads + h (synchronises).
  Csr attended_pages(int step);
  // Per sequence [steps, num_q_heads, head_dim] (synchronises).
  std::vector<Tensor> outputs();

 private:
  void fill_pools_by_prefill(const Workload& workload, const RunOptions& options);
  void write_pools_from(const DevicePrefill& prefill, cudaStream_t stream);

  struct PoolLaunch {
    DecodeVariant variant;
    int heads_per_load;
    int num_splits;
    int chunks_per_split;
  };
  PoolLaunch plan_pool_launch(DecodeVariant variant, int pool_rows, int heads_per_load,
                              int max_chunks) const;
  void enqueue_attention(PagedKvCache& pool, const PoolLaunch& launch,
                         const DeviceBuffer<int32_t>& kv_head_of_pool_head, int num_tokens,
                         const float* query);

  DecodePlan plan_;
  cudaStream_t stream_;
  std::string nvtx_label_;
  int batch_, num_q_heads_, num_kv_heads_, head_dim_, group_size_, context_len_, steps_;
  int page_size_, pages_to_pick_ = 0;
  bool uses_selection_ = false;
  int sm_count_ = 1;
  double prefill_us_ = kNotMeasured;

  std::vector<int32_t> dense_heads_, streaming_heads_;  // model KV heads of each pool
  std::optional<PagedKvCache> dense_pool_, streaming_pool_;
  DeviceBuffer<int32_t> dense_kv_head_of_pool_head_, streaming_kv_head_of_pool_head_;
  DeviceBuffer<int32_t> dense_source_row_, streaming_source_row_;
  PoolLaunch dense_launch_{}, streaming_launch_{};

  DeviceBuffer<float> queries_;    // [steps, batch, num_q_heads, head_dim]
  DeviceBuffer<float> new_keys_;   // [steps, batch, num_kv_heads, head_dim]
  DeviceBuffer<float> new_values_;
  DeviceBuffer<float> out_;        // [batch, steps, num_q_heads, head_dim]
  int max_splits_ = 1;
  DeviceBuffer<float> partial_out_, partial_max_, partial_sum_;
  DeviceBuffer<int32_t> num_splits_of_q_head_;

  int selection_rows_ = 0;
  DeviceBuffer<float> page_scores_;       // [selection rows, pages_per_row]
  DeviceBuffer<int32_t> selected_;        // [selection rows, pages_to_pick]
  DeviceBuffer<int32_t> selected_count_;  // [selection rows]
  std::vector<int32_t> host_selected_, host_selected_count_;
};

}  // namespace unisparse::cuda
