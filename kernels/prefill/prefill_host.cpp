#include "kernels/prefill/prefill_host.h"

#include <cuda_runtime.h>

#include "kernels/common/cuda_check.h"
#include "kernels/prefill/device_prefill.h"
#include "kernels/prefill/prefill_launch.h"
#include "kernels/profile/gpu_timer.h"
#include "kernels/profile/nvtx.h"

namespace unisparse::cuda {

PrefillRun cuda_prefill(const Workload& workload, const PrefillPlan& plan, const RunOptions& options) {
  DevicePrefill prefill(workload, plan);
  PrefillRun run;
  if (prefill.empty()) return run;

  cudaStream_t stream = nullptr;
  UNISPARSE_CUDA_CHECK(cudaStreamCreate(&stream));
  try {
    prefill.poison_output(stream);
    prefill.launch(stream);
    UNISPARSE_CUDA_CHECK(cudaStreamSynchronize(stream));
    run.out = prefill.download_output();
    if (options.measure) {
      // The same measurement as decode; in profiling mode one iteration, CUPTI off, NVTX on.
      const auto timed_launch = [&](cudaStream_t on) {
        const NvtxRange range(options.label, "attention");
        prefill.launch(on);
      };
      const GpuTiming timing = time_gpu(timed_launch, timing_for(options), stream,
                                        {{kPrefillKernelName, "attention"}});
      const auto attention = timing.phase_median_us.find("attention");
      run.times.attention_us =
          attention != timing.phase_median_us.end() ? attention->second : timing.median_us;
      run.times.total_us = timing.median_us;
      run.times.total_min_us = timing.min_us;
      run.times.total_max_us = timing.max_us;
      run.times.iterations = timing.iterations;
      run.times.timer = timing.timer;
    }
  } catch (...) {
    cudaStreamDestroy(stream);
    throw;
  }
  cudaStreamDestroy(stream);
  return run;
}

}  // namespace unisparse::cuda
