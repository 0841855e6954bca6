#pragma once
// Timing of GPU work: CUPTI kernel activity records (per-kernel durations, no launch gaps) with a
// CUDA-event fallback when CUPTI cannot subscribe (e.g. under ncu). Cold measurements: an L2-sized
// buffer is overwritten before every timed iteration when l2_flush is set.
#include <cuda_runtime.h>

#include <functional>
#include <map>
#include <string>

#include "framework/backend/backend.h"
#include "framework/config/point.h"

namespace unisparse::cuda {

struct GpuTiming {
  double median_us = 0;  // per iteration (sum of the iteration's kernels for CUPTI; event span otherwise)
  double min_us = 0;
  double max_us = 0;
  int iterations = 0;
  std::string timer;  // "cupti" or "cuda_event"
  // Median per iteration of the summed durations of the kernels whose name contains each key of
  // `phase_of_kernel` (CUPTI only; empty with the event timer).
  std::map<std::string, double> phase_median_us;
};

// Runs launch(stream) options.warmup times, then repeatedly (min_iters..max_iters, stopping once the
// relative standard error of the median estimate is below max_noise) with an L2 flush before each.
// phase_of_kernel maps a substring of a kernel's name to a phase name ("stats", "selector", "topk",
// "attention", "merge").
GpuTiming time_gpu(const std::function<void(cudaStream_t)>& launch, const TimingConfig& options,
                   cudaStream_t stream,
                   const std::map<std::string, std::string>& phase_of_kernel = {});

// The same loop timed by CUDA events around each launch whether or not CUPTI is available: the
// span on the GPU from the first kernel's start to the last one's end, gaps between kernels
// included (timer "cuda_event"; no phases).
GpuTiming time_gpu_span(const std::function<void(cudaStream_t)>& launch, const TimingConfig& options,
                        cudaStream_t stream);

// Whether CUPTI activity tracing is usable in this process (false under ncu, or when disabled by
// UNISPARSE_TIMER=cuda_event or by profile mode).
bool cupti_available();
void disable_cupti();

// The timing a run asks for. Profiling mode is one measured iteration after warm-up with CUPTI off,
// so that Nsight Compute can subscribe; otherwise options.timing as given.
TimingConfig timing_for(const RunOptions& options);

}  // namespace unisparse::cuda
