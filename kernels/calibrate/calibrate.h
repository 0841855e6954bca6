#pragma once
// Measures the two ceilings configs/devices/<name>.yaml records for a GPU (the limits the roofline
// columns divide by): device memory copy bandwidth and dense bf16 matrix throughput.
#include <cstddef>
#include <string>

namespace unisparse::cuda {

struct GpuDescription {
  std::string name;  // as the driver reports it, e.g. "NVIDIA H200"
  int compute_major = 0;
  int compute_minor = 0;
  int sm_count = 0;
};

// Statistics over the timed samples of one measurement, in the measurement's unit.
struct RateSamples {
  double median = 0;
  double min = 0;
  double max = 0;
  int samples = 0;
};

GpuDescription describe_current_gpu();

// Device-to-device cudaMemcpyAsync of a `bytes` buffer, timed per copy with CUDA events after
// `warmup` untimed copies. The rate counts the bytes read plus the bytes written (2 * bytes), in
// GB/s (10^9 bytes per second).
RateSamples measure_copy_gbps(size_t bytes, int warmup, int samples);

// C = A * B for n x n bf16 matrices of random values through cublasGemmEx with fp32 accumulation
// (CUBLAS_COMPUTE_32F), timed per product with CUDA events after `warmup` untimed products; 2 n^3
// floating-point operations each, in TFLOP/s.
RateSamples measure_bf16_gemm_tflops(int n, int warmup, int samples);

}  // namespace unisparse::cuda
