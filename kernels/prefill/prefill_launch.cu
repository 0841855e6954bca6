#include "kernels/prefill/prefill_launch.h"

#include <string>
#include <type_traits>

#include "framework/core/error.h"
#include "kernels/common/cuda_check.h"
#include "kernels/prefill/prefill_kernel.cuh"

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
void dispatch_element(DType dtype, Body&& body) {
  switch (dtype) {
    case DType::fp16: return body(__half{});
    case DType::bf16: return body(__nv_bfloat16{});
    default:
      throw Unsupported("cuda prefill: dtype " + std::string(to_string(dtype)) +
                        " (fp16 and bf16 are implemented)");
  }
}

template <class Body>
void dispatch_head_dim(int head_dim, Body&& body) {
  switch (head_dim) {
    case 64: return body(std::integral_constant<int, 64>{});
    case 128: return body(std::integral_constant<int, 128>{});
    default:
      throw Unsupported("cuda prefill: head_dim " + std::to_string(head_dim) +
                        " (64 and 128 are implemented)");
  }
}

template <class Body>
void dispatch_block_size(int block_size, Body&& body) {
  switch (block_size) {
    case 64: return body(std::integral_constant<int, 64>{});
    case 128: return body(std::integral_constant<int, 128>{});
    default:
      throw Unsupported("cuda prefill: block_size " + std::to_string(block_size) +
                        " (64 and 128 are implemented)");
  }
}

}  // namespace

void launch_block_sparse_prefill(const PrefillParams& params, DType dtype, int head_dim, int batch,
                                 cudaStream_t stream) {
  dispatch_element(dtype, [&](auto element) {
    dispatch_head_dim(head_dim, [&](auto head_dim_constant) {
      dispatch_block_size(params.block_size, [&](auto block_constant) {
        launch<decltype(element), decltype(head_dim_constant)::value,
               decltype(block_constant)::value>(params, batch, stream);
      });
    });
  });
}

}  // namespace unisparse::cuda
