#pragma once
// The GPU state of one decode run (decode steps as in framework/DESIGN.md, Selection rules): the
// paged KV pools filled from the prefill, the decode inputs, the cached page selection, and the
// launches of one step.
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
#include "kernels/decode/step_graphs.h"
#include "kernels/decode/step_launches.h"
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
  ~DecodeRunner();
  DecodeRunner(const DecodeRunner&) = delete;
  DecodeRunner& operator=(const DecodeRunner&) = delete;

  // Enqueues decode step `step`: append token T+step, select pages when run_selector, attend, merge
  // (step_launches). The streaming pool runs on a branch forked from the stream after the append and
  // joined before the step ends. No host synchronisation.
  void enqueue_step(int step, bool run_selector);
  // The same step as one CUDA graph (step_graphs.h): capture_step_graph captures it (updating the
  // graph of its launch key in place), launch_step_graph replays the graph last captured for the
  // step's key, as often as wanted.
  void capture_step_graph(int step, bool run_selector);
  void launch_step_graph(int step, bool run_selector);
  const StepGraphs& step_graphs() const { return graphs_; }
  StepLaunches launches_at(int step, bool run_selector) const {
    return step_launches(step_shape_, step, run_selector);
  }

  bool selector_runs_at(int step) const {
    return uses_selection_ && step % plan_.policy.reuse_interval == 0;
  }
  bool uses_selection() const { return uses_selection_; }
  // The split counts of the dense and streaming pools' attention (1 where the pool is absent).
  int dense_splits() const { return step_shape_.dense_splits; }
  int streaming_splits() const { return step_shape_.streaming_splits; }
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
    DecodeKernelKey kernel{};
    int work_items = 0;
    int num_splits = 1;
  };
  PoolLaunch plan_pool_launch(DecodeVariant variant, DType storage, int pool_rows, int heads_per_load,
                              int max_chunks) const;
  void enqueue_attention(PagedKvCache& pool, const PoolLaunch& launch,
                         const DeviceBuffer<int32_t>& kv_head_of_pool_head, int step, const float* query,
                         bool merge, cudaStream_t stream);
  void enqueue_selection(int step, bool scores, const float* query);

  DecodePlan plan_;
  cudaStream_t stream_;
  cudaStream_t branch_stream_ = nullptr;  // the streaming pool's branch
  cudaEvent_t fork_ = nullptr, join_ = nullptr;
  std::string nvtx_label_;
  int batch_, num_q_heads_, num_kv_heads_, head_dim_, group_size_, context_len_, steps_;
  int page_size_, pages_to_pick_ = 0;
  bool uses_selection_ = false;
  int sm_count_ = 1;
  double prefill_us_ = kNotMeasured;
  StepShape step_shape_;
  StepGraphs graphs_;
  std::map<StepLaunches, std::pair<int, bool>> captured_step_;  // key -> (step, run_selector)

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

  int selection_rows_ = 0;
  DeviceBuffer<float> page_scores_;       // [selection rows, pages_per_row]
  DeviceBuffer<int32_t> selected_;        // [selection rows, pages_to_pick]
  DeviceBuffer<int32_t> selected_count_;  // [selection rows]
  std::vector<int32_t> host_selected_, host_selected_count_;
};

}  // namespace unisparse::cuda
