#pragma once
// The interface every backend implements (cpu: framework/sparse/cpu_backend; cuda: kernels/).
// A backend computes the outputs and selections of one layer for a workload and a plan, and times the
// phases it runs. The runner compares outputs with the dense reference and the selections with the
// CPU backend's.
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "framework/config/point.h"
#include "framework/core/tensor.h"
#include "framework/sparse/plan.h"
#include "framework/workload/workload.h"

namespace unisparse {

inline constexpr double kNotMeasured = std::numeric_limits<double>::quiet_NaN();

// Median times in microseconds; a phase a backend does not run stays kNotMeasured (an empty column).
// Decode: per step, the selector's phases amortised over the reuse interval. Prefill: whole prefill.
struct PhaseTimes {
  double stats_us = kNotMeasured;
  double selector_us = kNotMeasured;
  double topk_us = kNotMeasured;
  double attention_us = kNotMeasured;
  double merge_us = kNotMeasured;
  // Decode with cache_fill=prefill: the prefill over the whole prompt that filled the KV cache (the
  // attention kernel and the cache writes: K/V scatter, key statistics, fp8 scales), once per run.
  double prefill_us = kNotMeasured;
  // cuda decode: the step replayed as one CUDA graph, timed by events around each replay (kernel
  // times plus the gaps between them; total_us sums the kernels alone), amortised like total_us.
  double step_graph_us = kNotMeasured;
  double total_us = kNotMeasured;      // median of the per-iteration totals
  double total_min_us = kNotMeasured;
  double total_max_us = kNotMeasured;
  int iterations = 0;
  std::string timer;  // "cupti", "cuda_event", "wall"
};

struct RunOptions {
  TimingConfig timing;
  bool measure = true;       // time the phases after the correctness run
  bool profile = false;      // one measured iteration after warm-up, no CUPTI, NVTX ranges on
  std::string label;         // NVTX range prefix: "<sweep>.<point_id>"
};

struct DecodeRun {
  std::vector<Tensor> out;       // per sequence: [steps, num_q_heads, head_dim]
  DecodeSelections selections;   // [steps] rows b * num_q_heads + h (plan.h)
  PhaseTimes times;
};

struct PrefillRun {
  std::vector<Tensor> out;  // per sequence: [num_q_heads, T, head_dim]
  PhaseTimes times;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual DecodeRun decode(const Workload& workload, const DecodePlan& plan,
                           const RunOptions& options) = 0;
  virtual PrefillRun prefill(const Workload& workload, const PrefillPlan& plan,
                             const RunOptions& options) = 0;
  // Device description for provenance ("cpu: <model>, N threads" or the GPU block).
  virtual std::string device_name() const = 0;
};

// "cpu" or "cuda"; throws InputError naming the backend when it is unknown or not built.
std::unique_ptr<Backend> make_backend(const std::string& name);
std::vector<std::string> available_backends();

}  // namespace unisparse
