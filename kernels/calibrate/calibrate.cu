#include "kernels/calibrate/calibrate.h"

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/common/cuda_check.h"
#include "kernels/common/device_buffer.h"

namespace unisparse::cuda {
namespace {

void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string(what) + ": " + cublasGetStatusString(status));
}

// Owns the two events that bracket one timed operation on a stream.
class EventTimer {
 public:
  explicit EventTimer(cudaStream_t stream) : stream_(stream) {
    UNISPARSE_CUDA_CHECK(cudaEventCreate(&start_));
    UNISPARSE_CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~EventTimer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;

  // Seconds the enqueued `work` took on the stream.
  double seconds(const std::function<void()>& work) {
    UNISPARSE_CUDA_CHECK(cudaEventRecord(start_, stream_));
    work();
    UNISPARSE_CUDA_CHECK(cudaEventRecord(stop_, stream_));
    UNISPARSE_CUDA_CHECK(cudaEventSynchronize(stop_));
    float milliseconds = 0;
    UNISPARSE_CUDA_CHECK(cudaEventElapsedTime(&milliseconds, start_, stop_));
    return milliseconds * 1e-3;
  }

 private:
  cudaStream_t stream_;
  cudaEvent_t start_ = nullptr;
  cudaEvent_t stop_ = nullptr;
};

// Runs `work` warmup times untimed, then `samples` timed times; rate = amount / seconds.
RateSamples sample_rate(cudaStream_t stream, int warmup, int samples, double amount,
                        const std::function<void()>& work) {
  if (samples <= 0) throw std::invalid_argument("calibrate: samples must be positive");
  for (int i = 0; i < warmup; ++i) work();
  UNISPARSE_CUDA_CHECK(cudaStreamSynchronize(stream));
  EventTimer timer(stream);
  std::vector<double> rates;
  for (int i = 0; i < samples; ++i) rates.push_back(amount / timer.seconds(work));
  std::ranges::sort(rates);
  const size_t middle = rates.size() / 2;
  const double median =
      rates.size() % 2 ? rates[middle] : 0.5 * (rates[middle - 1] + rates[middle]);
  return {median, rates.front(), rates.back(), samples};
}

// Uniform values in [-1, 1) from a hash of the element index, so the products are not of zeros
// (and not of a pattern the hardware could shortcut).
__global__ void fill_random_bf16(__nv_bfloat16* values, int64_t count, uint32_t seed) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    uint32_t bits = static_cast<uint32_t>(i) * 0x9E3779B9u ^ static_cast<uint32_t>(i >> 32) ^ seed;
    bits ^= bits >> 16;
    bits *= 0x85EBCA6Bu;
    bits ^= bits >> 13;
    bits *= 0xC2B2AE35u;
    bits ^= bits >> 16;
    values[i] = __float2bfloat16(static_cast<float>(bits) * (2.0f / 4294967296.0f) - 1.0f);
  }
}

void fill_random(DeviceBuffer<__nv_bfloat16>& buffer, uint32_t seed, cudaStream_t stream) {
  constexpr int kThreads = 256;
  constexpr int kBlocks = 4096;  // grid-stride: enough blocks to fill every SM
  fill_random_bf16<<<kBlocks, kThreads, 0, stream>>>(buffer.data(),
                                                     static_cast<int64_t>(buffer.size()), seed);
  UNISPARSE_CUDA_CHECK_LAUNCH();
}

}  // namespace

GpuDescription describe_current_gpu() {
  int device = 0;
  UNISPARSE_CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp properties{};
  UNISPARSE_CUDA_CHECK(cudaGetDeviceProperties(&properties, device));
  return {properties.name, properties.major, properties.minor, properties.multiProcessorCount};
}

RateSamples measure_copy_gbps(size_t bytes, int warmup, int samples) {
  DeviceBuffer<char> source(bytes);
  DeviceBuffer<char> destination(bytes);
  cudaStream_t stream = nullptr;
  UNISPARSE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  UNISPARSE_CUDA_CHECK(cudaMemsetAsync(source.data(), 1, bytes, stream));
  const auto copy = [&] {
    UNISPARSE_CUDA_CHECK(cudaMemcpyAsync(destination.data(), source.data(), bytes,
                                         cudaMemcpyDeviceToDevice, stream));
  };
  const double bytes_moved_gb = 2.0 * static_cast<double>(bytes) * 1e-9;  // read + write
  const RateSamples rates = sample_rate(stream, warmup, samples, bytes_moved_gb, copy);
  UNISPARSE_CUDA_CHECK(cudaStreamDestroy(stream));
  return rates;
}

RateSamples measure_bf16_gemm_tflops(int n, int warmup, int samples) {
  const size_t elements = static_cast<size_t>(n) * n;
  DeviceBuffer<__nv_bfloat16> a(elements);
  DeviceBuffer<__nv_bfloat16> b(elements);
  DeviceBuffer<__nv_bfloat16> c(elements);
  cudaStream_t stream = nullptr;
  UNISPARSE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  fill_random(a, 1, stream);
  fill_random(b, 2, stream);

  cublasHandle_t handle = nullptr;
  check_cublas(cublasCreate(&handle), "cublasCreate");
  check_cublas(cublasSetStream(handle, stream), "cublasSetStream");
  const float alpha = 1.0f;
  const float beta = 0.0f;
  const auto product = [&] {
    check_cublas(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, a.data(),
                              CUDA_R_16BF, n, b.data(), CUDA_R_16BF, n, &beta, c.data(),
                              CUDA_R_16BF, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                 "cublasGemmEx");
  };
  const double teraflops_per_product = 2.0 * n * static_cast<double>(n) * n * 1e-12;
  const RateSamples rates = sample_rate(stream, warmup, samples, teraflops_per_product, product);
  check_cublas(cublasDestroy(handle), "cublasDestroy");
  UNISPARSE_CUDA_CHECK(cudaStreamDestroy(stream));
  return rates;
}

}  // namespace unisparse::cuda
