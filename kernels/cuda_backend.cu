#include "kernels/cuda_backend.h"

#include <cstdio>

#include "framework/core/error.h"
#include "framework/core/kv_quant.h"
#include "kernels/api.h"
#include "kernels/common/cuda_check.h"
#include "kernels/decode/decode_runner.h"
#include "kernels/profile/gpu_timer.h"
#include "kernels/prefill/prefill_host.h"

namespace unisparse {

std::unique_ptr<Backend> make_cuda_backend() { return std::make_unique<cuda::CudaBackend>(); }

namespace cuda {
namespace {

double phase_or_zero(const GpuTiming& timing, const std::string& phase) {
  const auto it = timing.phase_median_us.find(phase);
  return it == timing.phase_median_us.end() ? 0.0 : it->second;
}

// The step replayed as one CUDA graph, timed by events around each replay: kernel times and the
// gaps between them, none of the host's launch overhead.
GpuTiming time_step_graph(DecodeRunner& runner, int step, bool run_selector, const TimingConfig& timing,
                          cudaStream_t stream) {
  runner.capture_step_graph(step, run_selector);
  return time_gpu_span([&](cudaStream_t) { runner.launch_step_graph(step, run_selector); }, timing, stream);
}

// Steady-state time of one decode step: the selector runs one step in reuse_interval, so a step
// costs (1/R) * (step with selection) + (1 - 1/R) * (step without). Per-kernel CUPTI sums of the
// eagerly launched step (total and phases), and the event span of the step replayed as a graph.
PhaseTimes time_decode_step(DecodeRunner& runner, int step, int reuse_interval,
                            const RunOptions& options, cudaStream_t stream) {
  const TimingConfig timing = timing_for(options);
  const GpuTiming plain_graph = time_step_graph(runner, step, false, timing, stream);
  const GpuTiming plain =
      time_gpu([&](cudaStream_t) { runner.enqueue_step(step, false); }, timing, stream,
               decode_phase_of_kernel());
  PhaseTimes times;
  times.timer = plain.timer;
  const bool cupti = plain.timer == "cupti";
  if (!runner.uses_selection()) {
    times.total_us = plain.median_us;
    times.total_min_us = plain.min_us;
    times.total_max_us = plain.max_us;
    times.iterations = plain.iterations;
    times.step_graph_us = plain_graph.median_us;
    if (cupti) {
      times.stats_us = phase_or_zero(plain, "stats");
      times.attention_us = phase_or_zero(plain, "attention");
      times.merge_us = phase_or_zero(plain, "merge");
    }
    return times;
  }
  const GpuTiming selecting =
      time_gpu([&](cudaStream_t) { runner.enqueue_step(step, true); }, timing, stream,
               decode_phase_of_kernel());
  const double share = 1.0 / reuse_interval;
  auto amortised = [&](double with, double without) { return share * with + (1 - share) * without; };
  times.total_us = amortised(selecting.median_us, plain.median_us);
  times.total_min_us = amortised(selecting.min_us, plain.min_us);
  times.total_max_us = amortised(selecting.max_us, plain.max_us);
  times.iterations = selecting.iterations + plain.iterations;
  times.step_graph_us =
      amortised(time_step_graph(runner, step, true, timing, stream).median_us, plain_graph.median_us);
  if (cupti) {
    for (auto [phase, field] : {std::pair{"stats", &PhaseTimes::stats_us},
                                std::pair{"attention", &PhaseTimes::attention_us},
                                std::pair{"merge", &PhaseTimes::merge_us},
                                std::pair{"selector", &PhaseTimes::selector_us},
                                std::pair{"topk", &PhaseTimes::topk_us}})
      times.*field = amortised(phase_or_zero(selecting, phase), phase_or_zero(plain, phase));
  }
  return times;
}

}  // namespace

CudaBackend::CudaBackend() { UNISPARSE_CUDA_CHECK(cudaStreamCreate(&stream_)); }
CudaBackend::~CudaBackend() { cudaStreamDestroy(stream_); }

DecodeRun CudaBackend::decode(const Workload& workload, const DecodePlan& plan,
                              const RunOptions& options) {
  if (workload.dtype != DType::fp16 && workload.dtype != DType::bf16)
    throw Unsupported("cuda decode: dtype " + std::string(to_string(workload.dtype)) +
                      " is not implemented (fp16, bf16)");
  // A float cache holds the workload's values as they are (fp32 in a plan means just that).
  if (!is_quantized(plan.kv_storage) && plan.kv_storage != DType::fp32 &&
      plan.kv_storage != workload.dtype)
    throw Unsupported("cuda decode: a float KV cache is stored in the workload dtype " +
                      std::string(to_string(workload.dtype)) + ", not " +
                      std::string(to_string(plan.kv_storage)));
  if (uses_page_selection(plan.mode) && plan.selector != PageSelectorKind::quest)
    throw Unsupported("cuda decode: selector " + std::string(to_string(plan.selector)) +
                      " is not implemented (quest; the cpu backend runs the oracle)");
  DecodeRunner runner(workload, plan, stream_, options);
  DecodeRun run;
  for (int step = 0; step < workload.decode_steps; ++step) {
    runner.enqueue_step(step, runner.selector_runs_at(step));
    run.selections.push_back(runner.attended_pages(step));
  }
  run.out = runner.outputs();
  if (options.measure && workload.decode_steps > 0)
    run.times = time_decode_step(runner, workload.decode_steps - 1, plan.policy.reuse_interval,
                                 options, stream_);
  run.times.prefill_us = runner.prefill_us();
  UNISPARSE_CUDA_CHECK(cudaStreamSynchronize(stream_));
  return run;
}

PrefillRun CudaBackend::prefill(const Workload& workload, const PrefillPlan& plan,
                                const RunOptions& options) {
  return cuda_prefill(workload, plan, options);
}

std::string CudaBackend::device_name() const {
  int device = 0, driver = 0, runtime = 0;
  cudaDeviceProp properties{};
  UNISPARSE_CUDA_CHECK(cudaGetDevice(&device));
  UNISPARSE_CUDA_CHECK(cudaGetDeviceProperties(&properties, device));
  int sm_clock_khz = 0, memory_clock_khz = 0;
  cudaDeviceGetAttribute(&sm_clock_khz, cudaDevAttrClockRate, device);
  cudaDeviceGetAttribute(&memory_clock_khz, cudaDevAttrMemoryClockRate, device);
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  char text[512];
  std::snprintf(text, sizeof text,
                "%s, %d SMs, sm %d MHz / mem %d MHz, L2 %d MB, driver %d.%d, runtime %d.%d",
                properties.name, properties.multiProcessorCount, sm_clock_khz / 1000,
                memory_clock_khz / 1000, properties.l2CacheSize >> 20, driver / 1000,
                (driver % 1000) / 10, runtime / 1000, (runtime % 1000) / 10);
  return text;
}

}  // namespace cuda
}  // namespace unisparse
