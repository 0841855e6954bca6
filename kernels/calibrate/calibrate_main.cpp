// unisparse_calibrate: measures the current GPU's copy bandwidth and bf16 matrix throughput and
// writes them as configs/devices/<name>.yaml, the ceilings the roofline columns are divided by.
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>

#include "kernels/calibrate/calibrate.h"

namespace {

using unisparse::cuda::GpuDescription;
using unisparse::cuda::RateSamples;

constexpr size_t kCopyBytes = size_t{4} << 30;  // 4 GiB, far beyond L2
constexpr int kGemmSize = 8192;
constexpr int kWarmup = 5;
constexpr int kSamples = 20;

constexpr std::string_view kUsage =
    "usage: unisparse_calibrate [--name NAME] [--out PATH]\n"
    "  Measures device-to-device copy bandwidth and dense bf16 GEMM throughput on the current GPU\n"
    "  and writes them as a device ceilings file.\n"
    "  --name NAME  device name (default: from the GPU name, e.g. \"NVIDIA H200\" -> h200)\n"
    "  --out PATH   file to write (default: configs/devices/<name>.yaml)\n";

// "NVIDIA H200 NVL" -> "h200-nvl": the vendor prefix dropped, lower case, runs of other characters
// turned into one '-'.
std::string name_from_gpu(std::string_view gpu_name) {
  constexpr std::string_view kVendor = "NVIDIA ";
  if (gpu_name.starts_with(kVendor)) gpu_name.remove_prefix(kVendor.size());
  std::string name;
  for (const char c : gpu_name) {
    if (std::isalnum(static_cast<unsigned char>(c)))
      name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    else if (!name.empty() && name.back() != '-')
      name += '-';
  }
  while (!name.empty() && name.back() == '-') name.pop_back();
  return name.empty() ? "gpu" : name;
}

// printf-style formatting into a string.
template <typename... Args>
std::string formatted(const char* format, Args... args) {
  const int length = std::snprintf(nullptr, 0, format, args...);
  std::string text(static_cast<size_t>(length), '\0');
  std::snprintf(text.data(), text.size() + 1, format, args...);
  return text;
}

std::string today_utc() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  return formatted("%04d-%02d-%02d", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday);
}

// The ceilings file: a comment header saying what was measured, how, when and where, then the two
// strict "key: number" lines framework/metrics/device_ceilings.cpp reads.
std::string ceilings_text(const GpuDescription& gpu, const RateSamples& copy,
                          const RateSamples& gemm) {
  return formatted(
      "# %s (sm_%d%d, %d SMs), ceilings measured by unisparse_calibrate on %s:\n"
      "# HBM copy (cudaMemcpyAsync device to device, %zu GiB, bytes read + written), median of %d:\n"
      "# %.0f GB/s (min %.0f, max %.0f); dense bf16 matrix product %dx%dx%d (cublasGemmEx,\n"
      "# fp32 accumulate, random inputs), median of %d: %.0f TFLOP/s (min %.0f, max %.0f).\n"
      "hbm_gbps: %.0f\n"
      "tensor_tflops: %.0f\n",
      gpu.name.c_str(), gpu.compute_major, gpu.compute_minor, gpu.sm_count, today_utc().c_str(),
      kCopyBytes >> 30,
      copy.samples, copy.median, copy.min, copy.max, kGemmSize, kGemmSize, kGemmSize, gemm.samples,
      gemm.median, gemm.min, gemm.max, copy.median, gemm.median);
}

}  // namespace

int main(int argc, char** argv) {
  std::string name;
  std::string out_path;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if ((arg == "--name" || arg == "--out") && i + 1 < argc) {
      (arg == "--name" ? name : out_path) = argv[++i];
      continue;
    }
    std::cerr << "unisparse_calibrate: unexpected argument '" << arg << "'\n" << kUsage;
    return 2;
  }

  try {
    const GpuDescription gpu = unisparse::cuda::describe_current_gpu();
    if (name.empty()) name = name_from_gpu(gpu.name);
    if (out_path.empty()) out_path = "configs/devices/" + name + ".yaml";
    std::cout << "device: " << gpu.name << " (sm_" << gpu.compute_major << gpu.compute_minor << ", "
              << gpu.sm_count << " SMs)\n";

    const RateSamples copy = unisparse::cuda::measure_copy_gbps(kCopyBytes, kWarmup, kSamples);
    std::cout << formatted("copy: %.1f GB/s median (min %.1f, max %.1f)\n", copy.median,
                            copy.min, copy.max);
    const RateSamples gemm = unisparse::cuda::measure_bf16_gemm_tflops(kGemmSize, kWarmup, kSamples);
    std::cout << formatted("bf16 gemm: %.1f TFLOP/s median (min %.1f, max %.1f)\n",
                            gemm.median, gemm.min, gemm.max);

    const std::filesystem::path path(out_path);
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    std::ofstream file(path, std::ios::trunc);
    file << ceilings_text(gpu, copy, gemm);
    if (!file.flush()) {
      std::cerr << "unisparse_calibrate: cannot write " << out_path << "\n";
      return 1;
    }
    std::cout << "wrote " << out_path << "\n";
  } catch (const std::exception& e) {
    std::cerr << "unisparse_calibrate: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
