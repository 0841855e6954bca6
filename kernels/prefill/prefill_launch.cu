#include "kernels/prefill/prefill_launch.h"

#include <map>
#include <mutex>
#include <string>
#include <type_traits>

#include "framework/core/error.h"
#include "kernels/common/cuda_check.h"
#include "kernels/prefill/prefill_kernel.cuh"
#include "kernels/prefill/prefill_sm90_launch.h"
#include "kernels/prefill/prefill_sm90_tma.h"

namespace unisparse::cuda {
namespace {

template <class Element, int kHeadDim, int kBlockM>
void launch(const PrefillParams& params, int batch, cudaStream_t stream) {
  constexpr int kSharedBytes = PrefillTileShape<kHeadDim, kBlockM>::kSharedBytes;
  auto* kernel = &block_sparse_prefill_kernel<Element, kHeadDim, kBlockM>;
  UNISPARSE_CUDA_CHECK(
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSharedBytes));
  const dim3 grid(params.num_q_heads, params.num_q_blocks, batch);
  kernel<<<grid, kPrefillThreads, kSharedBytes, stream>>>(params);
  UNISPARSE_CUDA_CHECK_LAUNCH();
}

template <class Body>
auto dispatch_element(DType dtype, Body&& body) {
  switch (dtype) {
    case DType::fp16: return body(__half{});
    case DType::bf16: return body(__nv_bfloat16{});
    default:
      throw Unsupported("cuda prefill: dtype " + std::string(to_string(dtype)) +
                        " (fp16 and bf16 are implemented)");
  }
}

template <class Body>
auto dispatch_head_dim(int head_dim, Body&& body) {
  switch (head_dim) {
    case 64: return body(std::integral_constant<int, 64>{});
    case 128: return body(std::integral_constant<int, 128>{});
    default:
      throw Unsupported("cuda prefill: head_dim " + std::to_string(head_dim) +
                        " (64 and 128 are implemented)");
  }
}

template <class Body>
auto dispatch_block_size(int block_size, Body&& body) {
  switch (block_size) {
    case 64: return body(std::integral_constant<int, 64>{});
    case 128: return body(std::integral_constant<int, 128>{});
    default:
      throw Unsupported("cuda prefill: block_size " + std::to_string(block_size) +
                        " (64 and 128 are implemented)");
  }
}

struct ComputeCapability {
  int major = 0, minor = 0;
};

// Queried once per device.
ComputeCapability current_device_capability() {
  int device = 0;
  UNISPARSE_CUDA_CHECK(cudaGetDevice(&device));
  static std::mutex mutex;
  static std::map<int, ComputeCapability> known;
  const std::lock_guard lock(mutex);
  if (const auto found = known.find(device); found != known.end()) return found->second;
  ComputeCapability capability;
  UNISPARSE_CUDA_CHECK(
      cudaDeviceGetAttribute(&capability.major, cudaDevAttrComputeCapabilityMajor, device));
  UNISPARSE_CUDA_CHECK(
      cudaDeviceGetAttribute(&capability.minor, cudaDevAttrComputeCapabilityMinor, device));
  return known[device] = capability;
}

PrefillKernelPath choose_path(const PrefillParams& params, int head_dim, int batch) {
  const PrefillKernelChoice choice = prefill_kernel_choice_from_environment();
  if (choice == PrefillKernelChoice::sm80) return PrefillKernelPath::sm80;
  const ComputeCapability capability = current_device_capability();
  return resolve_prefill_kernel_path(
      choice, sm90_prefill_unavailable_reason(capability.major, capability.minor,
                                              prefill_tma_unsupported_reason(params, head_dim, batch)));
}

}  // namespace

PrefillKernelPath launch_block_sparse_prefill(const PrefillParams& params, DType dtype, int head_dim,
                                              int batch, cudaStream_t stream) {
  return dispatch_element(dtype, [&](auto element) {
    return dispatch_head_dim(head_dim, [&](auto head_dim_constant) {
      return dispatch_block_size(params.block_size, [&](auto block_constant) {
        using Element = decltype(element);
        constexpr int kHeadDim = decltype(head_dim_constant)::value;
        constexpr int kBlockM = decltype(block_constant)::value;
        const PrefillKernelPath path = choose_path(params, head_dim, batch);
        if (path == PrefillKernelPath::sm90)
          launch_block_sparse_prefill_sm90<Element, kHeadDim, kBlockM>(params, batch, stream);
        else
          launch<Element, kHeadDim, kBlockM>(params, batch, stream);
        return path;
      });
    });
  });
}

}  // namespace unisparse::cuda
