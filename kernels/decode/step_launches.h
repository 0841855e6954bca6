#pragma once
// Which kernels one decode step launches. The eager path and the graph capture both follow
// step_launches, and it is also the key of the step graphs (step_graphs.h): two steps with equal
// StepLaunches launch the same kernels in the same order and differ only in kernel parameters, so
// one instantiated graph serves both after an in-place update.
//
// Host-only: no CUDA call, so that the rule is tested without a GPU.
#include <compare>

namespace unisparse::cuda {

// What a decode run is made of, fixed for the run.
struct StepShape {
  bool dense_pool = false;      // dense (retrieval) KV heads exist
  bool streaming_pool = false;  // streaming KV heads exist (modes with static sparsity)
  bool uses_selection = false;  // the dense pool selects pages (modes with dynamic sparsity)
  int context_len = 0;          // prompt tokens before decode step 0
  int page_size = 0;            // physical page, tokens
  int dense_splits = 1;         // splits of the dense pool's attention
  int streaming_splits = 1;     // splits of the streaming pool's attention
};

// In launch order. The streaming pool's attention and merge form a branch that runs beside the
// selection and the dense pool's attention (it needs only the append).
struct StepLaunches {
  bool append = false;               // the step's token into the pools (stats: key statistics)
  bool page_scores = false;          // selector step with scored pages (all but the last page)
  bool topk = false;                 // selector step
  bool dense_attention = false;
  bool dense_merge = false;          // the dense pool has more than one split
  bool streaming_attention = false;
  bool streaming_merge = false;      // the streaming pool has more than one split
  auto operator<=>(const StepLaunches&) const = default;
};

// The launches of decode step `step` (token context_len + step appended first); run_selector:
// whether the selector runs at this step (the reuse interval's first steps, or a forced selection).
StepLaunches step_launches(const StepShape& shape, int step, bool run_selector);

}  // namespace unisparse::cuda
