#include "kernels/profile/gpu_timer.h"

#include <cupti.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "framework/core/statistics.h"
#include "kernels/common/cuda_check.h"

namespace unisparse::cuda {
namespace {

struct KernelRecord {
  std::string name;
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
};

// CUPTI delivers activity records through C callbacks; they land here until the timer collects them.
std::mutex records_mutex;
std::vector<KernelRecord> kernel_records;

constexpr size_t kActivityBufferBytes = 8 << 20;
constexpr size_t kActivityBufferAlign = 8;

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_num_records) {
  *buffer = static_cast<uint8_t*>(std::aligned_alloc(kActivityBufferAlign, kActivityBufferBytes));
  *size = kActivityBufferBytes;
  *max_num_records = 0;
}

void CUPTIAPI buffer_completed(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid_size) {
  CUpti_Activity* record = nullptr;
  std::lock_guard lock(records_mutex);
  while (cuptiActivityGetNextRecord(buffer, valid_size, &record) == CUPTI_SUCCESS) {
    if (record->kind != CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL &&
        record->kind != CUPTI_ACTIVITY_KIND_KERNEL)
      continue;
    const auto* kernel = reinterpret_cast<const CUpti_ActivityKernel10*>(record);
    kernel_records.push_back({kernel->name ? kernel->name : "", kernel->start, kernel->end});
  }
  std::free(buffer);
}

enum class CuptiState { untried, enabled, unavailable };
CuptiState cupti_state = CuptiState::untried;

bool try_enable_cupti() {
  if (cupti_state != CuptiState::untried) return cupti_state == CuptiState::enabled;
  const char* forced = std::getenv("UNISPARSE_TIMER");
  if (forced && std::string(forced) == "cuda_event") {
    cupti_state = CuptiState::unavailable;
    return false;
  }
  // Fails with CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED under ncu: fall back to events.
  if (cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed) != CUPTI_SUCCESS ||
      cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) != CUPTI_SUCCESS) {
    cupti_state = CuptiState::unavailable;
    return false;
  }
  cupti_state = CuptiState::enabled;
  return true;
}

std::vector<KernelRecord> take_records() {
  cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
  std::lock_guard lock(records_mutex);
  std::vector<KernelRecord> taken;
  taken.swap(kernel_records);
  return taken;
}

// Overwrites a buffer twice the L2 size so that the next iteration starts with a cold cache.
__global__ void l2_flush_kernel(int4* buffer, int64_t count, int value) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x)
    buffer[i] = make_int4(value, value, value, value);
}

class L2Flusher {
 public:
  L2Flusher() {
    int device = 0;
    UNISPARSE_CUDA_CHECK(cudaGetDevice(&device));
    int l2_bytes = 0;
    UNISPARSE_CUDA_CHECK(cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, device));
    count_ = std::max<int64_t>(1, 2 * int64_t{l2_bytes} / int64_t{sizeof(int4)});
    UNISPARSE_CUDA_CHECK(cudaMalloc(&buffer_, count_ * sizeof(int4)));
  }
  ~L2Flusher() { cudaFree(buffer_); }
  void flush(cudaStream_t stream) {
    l2_flush_kernel<<<1024, 256, 0, stream>>>(buffer_, count_, ++generation_);
    UNISPARSE_CUDA_CHECK_LAUNCH();
  }

 private:
  int4* buffer_ = nullptr;
  int64_t count_ = 0;
  int generation_ = 0;
};

// Relative standard error of the median: 1.2533 * stddev / sqrt(n) / median (normal approximation).
double relative_noise(const std::vector<double>& values) {
  const size_t n = values.size();
  if (n < 2) return INFINITY;
  double mean = 0;
  for (double v : values) mean += v;
  mean /= n;
  double variance = 0;
  for (double v : values) variance += (v - mean) * (v - mean);
  variance /= (n - 1);
  const double middle = median(values);
  return middle > 0 ? 1.2533 * std::sqrt(variance / n) / middle : INFINITY;
}

}  // namespace

bool cupti_available() { return try_enable_cupti(); }

void disable_cupti() {
  if (cupti_state == CuptiState::enabled) {
    cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
    cuptiActivityDisable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL);
  }
  cupti_state = CuptiState::unavailable;
}

TimingConfig timing_for(const RunOptions& options) {
  TimingConfig timing = options.timing;
  if (options.profile) {
    disable_cupti();
    timing.min_iters = timing.max_iters = 1;
  }
  return timing;
}

namespace {

GpuTiming timed_loop(const std::function<void(cudaStream_t)>& launch, const TimingConfig& options,
                     cudaStream_t stream, const std::map<std::string, std::string>& phase_of_kernel,
                     bool allow_cupti) {
  L2Flusher flusher;
  for (int i = 0; i < options.warmup; ++i) launch(stream);
  UNISPARSE_CUDA_CHECK(cudaStreamSynchronize(stream));

  const bool use_cupti = allow_cupti && try_enable_cupti();
  if (use_cupti) take_records();  // drop the warm-up's records

  cudaEvent_t begin, end;
  UNISPARSE_CUDA_CHECK(cudaEventCreate(&begin));
  UNISPARSE_CUDA_CHECK(cudaEventCreate(&end));

  GpuTiming timing;
  timing.timer = use_cupti ? "cupti" : "cuda_event";
  std::vector<double> totals_us;
  std::map<std::string, std::vector<double>> phase_us;
  const int max_iters = std::max(options.max_iters, std::max(1, options.min_iters));
  for (int iter = 0; iter < max_iters; ++iter) {
    if (options.l2_flush) flusher.flush(stream);
    if (use_cupti) {
      // Each iteration is synchronised and flushed, so its records are exactly its kernels.
      UNISPARSE_CUDA_CHECK(cudaStreamSynchronize(stream));
      take_records();
      launch(stream);
      UNISPARSE_CUDA_CHECK(cudaStreamSynchronize(stream));
      double total_us = 0;
      std::map<std::string, double> iteration_phase_us;
      for (const auto& [key, phase] : phase_of_kernel) iteration_phase_us[phase] = 0;
      for (const KernelRecord& record : take_records()) {
        const double us = (record.end_ns - record.start_ns) * 1e-3;
        total_us += us;
        for (const auto& [key, phase] : phase_of_kernel)
          if (record.name.find(key) != std::string::npos) {
            iteration_phase_us[phase] += us;
            break;
          }
      }
      totals_us.push_back(total_us);
      for (const auto& [phase, us] : iteration_phase_us) phase_us[phase].push_back(us);
    } else {
      UNISPARSE_CUDA_CHECK(cudaEventRecord(begin, stream));
      launch(stream);
      UNISPARSE_CUDA_CHECK(cudaEventRecord(end, stream));
      UNISPARSE_CUDA_CHECK(cudaEventSynchronize(end));
      float ms = 0;
      UNISPARSE_CUDA_CHECK(cudaEventElapsedTime(&ms, begin, end));
      totals_us.push_back(ms * 1e3);
    }
    if (iter + 1 >= options.min_iters && relative_noise(totals_us) < options.max_noise) break;
  }
  cudaEventDestroy(begin);
  cudaEventDestroy(end);

  timing.iterations = static_cast<int>(totals_us.size());
  timing.median_us = median(totals_us);
  timing.min_us = *std::min_element(totals_us.begin(), totals_us.end());
  timing.max_us = *std::max_element(totals_us.begin(), totals_us.end());
  for (const auto& [phase, values] : phase_us) timing.phase_median_us[phase] = median(values);
  return timing;
}

}  // namespace

GpuTiming time_gpu(const std::function<void(cudaStream_t)>& launch, const TimingConfig& options,
                   cudaStream_t stream, const std::map<std::string, std::string>& phase_of_kernel) {
  return timed_loop(launch, options, stream, phase_of_kernel, true);
}

GpuTiming time_gpu_span(const std::function<void(cudaStream_t)>& launch, const TimingConfig& options,
                        cudaStream_t stream) {
  return timed_loop(launch, options, stream, {}, false);
}

}  // namespace unisparse::cuda
