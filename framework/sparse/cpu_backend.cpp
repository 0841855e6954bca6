#include "framework/sparse/cpu_backend.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "framework/core/kv_quant.h"
#include "framework/core/parallel.h"
#include "framework/core/statistics.h"
#include "framework/sparse/cpu_decode.h"
#include "framework/sparse/cpu_prefill.h"

namespace unisparse {

namespace {

int measured_passes(const RunOptions& options) {
  return options.profile ? 1 : std::max(1, options.timing.min_iters);
}

// Per-pass samples of each timed quantity, in microseconds.
struct Samples {
  std::vector<double> stats, selector, attention, total;
};

void summarise(const Samples& samples, PhaseTimes& times) {
  times.timer = "wall";
  times.iterations = static_cast<int>(samples.total.size());
  times.total_us = median(samples.total);
  times.total_min_us = *std::ranges::min_element(samples.total);
  times.total_max_us = *std::ranges::max_element(samples.total);
  if (!samples.stats.empty()) times.stats_us = median(samples.stats);
  if (!samples.selector.empty()) times.selector_us = median(samples.selector);
  times.attention_us = median(samples.attention);
}

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }

  std::string device_name() const override {
    return "cpu (" + std::to_string(hardware_threads()) + " threads)";
  }

  DecodeRun decode(const Workload& workload, const DecodePlan& plan,
                   const RunOptions& options) override {
    // A quantized cache is written once, like the prefill's cache write, outside the timed phases.
    std::optional<Workload> stored_kv;
    if (is_quantized(plan.kv_storage)) stored_kv = kv_as_stored(workload, plan.kv_storage);
    const Workload& attended_kv = stored_kv ? *stored_kv : workload;

    CpuDecodeResult first = cpu_decode(workload, attended_kv, plan);
    DecodeRun run{std::move(first.out), std::move(first.selections), {}};
    if (!options.measure || workload.decode_steps == 0) return run;

    for (int i = 0; i < options.timing.warmup; ++i) cpu_decode(workload, attended_kv, plan);
    const double us_per_step = 1e6 / workload.decode_steps;
    const bool select_pages = uses_page_selection(plan.mode);
    Samples samples;
    for (int i = 0; i < measured_passes(options); ++i) {
      const DecodePhaseSeconds seconds = cpu_decode(workload, attended_kv, plan).seconds;
      if (select_pages) {
        samples.stats.push_back(seconds.stats * us_per_step);
        samples.selector.push_back(seconds.selector * us_per_step);
      }
      samples.attention.push_back(seconds.attention * us_per_step);
      samples.total.push_back((seconds.stats + seconds.selector + seconds.attention) * us_per_step);
    }
    summarise(samples, run.times);
    return run;
  }

  PrefillRun prefill(const Workload& workload, const PrefillPlan& plan,
                     const RunOptions& options) override {
    PrefillRun run{cpu_prefill(workload, plan), {}};
    if (!options.measure) return run;

    for (int i = 0; i < options.timing.warmup; ++i) cpu_prefill(workload, plan);
    Samples samples;
    for (int i = 0; i < measured_passes(options); ++i) {
      const auto start = std::chrono::steady_clock::now();
      cpu_prefill(workload, plan);
      const double us =
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
      samples.attention.push_back(us);
      samples.total.push_back(us);
    }
    summarise(samples, run.times);
    return run;
  }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace unisparse
