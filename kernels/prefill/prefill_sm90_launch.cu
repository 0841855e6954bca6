// Compiled for sm_90a only (-gencode=arch=compute_90a,code=sm_90a, kernels/CMakeLists.txt).
#include "kernels/prefill/prefill_sm90_launch.h"

#include <type_traits>

#include "kernels/common/cuda_check.h"
#include "kernels/prefill/prefill_sm90_kernel.cuh"
#include "kernels/prefill/prefill_sm90_tma.h"

namespace unisparse::cuda {

template <class Element, int kHeadDim, int kBlockM>
void launch_block_sparse_prefill_sm90(const PrefillParams& params, int batch, cudaStream_t stream) {
  using Config = Sm90PrefillConfig<kHeadDim, kBlockM>;
  constexpr bool kBf16 = std::is_same_v<Element, __nv_bfloat16>;
  const PrefillTensorLayouts layouts = prefill_tensor_layouts(params, kHeadDim, batch);
  Sm90PrefillParams sm90_params;
  sm90_params.plan = params;
  sm90_params.q_map = encode_tma_tile_map(tma_tile_view(layouts.q, Config::kBlockM), params.q, kBf16);
  sm90_params.k_map = encode_tma_tile_map(tma_tile_view(layouts.k, Config::kBlockN), params.k, kBf16);
  sm90_params.v_map = encode_tma_tile_map(tma_tile_view(layouts.v, Config::kBlockN), params.v, kBf16);

  auto* kernel = &block_sparse_prefill_kernel_sm90<Element, kHeadDim, kBlockM>;
  UNISPARSE_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            Config::kSharedBytes));
  const dim3 grid(params.num_q_heads, params.num_q_blocks, batch);
  kernel<<<grid, Config::kThreads, Config::kSharedBytes, stream>>>(sm90_params);
  UNISPARSE_CUDA_CHECK_LAUNCH();
}

#define UNISPARSE_INSTANTIATE_SM90_PREFILL(Element, kHeadDim, kBlockM)               \
  template void launch_block_sparse_prefill_sm90<Element, kHeadDim, kBlockM>(        \
      const PrefillParams&, int, cudaStream_t);
UNISPARSE_SM90_PREFILL_INSTANCES(UNISPARSE_INSTANTIATE_SM90_PREFILL)
#undef UNISPARSE_INSTANTIATE_SM90_PREFILL

}  // namespace unisparse::cuda
