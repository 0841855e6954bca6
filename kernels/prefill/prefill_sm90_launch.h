#pragma once
// Launch of the sm_90a prefill kernel for one (element type, head dim, block size), instantiated in
// prefill_sm90_launch.cu, the one translation unit compiled for sm_90a (kernels/CMakeLists.txt).
// prefill_launch.cu decides whether it runs (prefill_kernel_path.h) and turns the runtime values into
// these template parameters.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/prefill/prefill_params.h"

namespace unisparse::cuda {

// Grid (num_q_heads, num_q_blocks, batch); params.block_size must equal kBlockM, the device must
// have compute capability 9.0 and TMA must accept the tensors (prefill_tma_unsupported_reason).
template <class Element, int kHeadDim, int kBlockM>
void launch_block_sparse_prefill_sm90(const PrefillParams& params, int batch, cudaStream_t stream);

#define UNISPARSE_SM90_PREFILL_INSTANCES(X) \
  X(__half, 64, 64)                         \
  X(__half, 64, 128)                        \
  X(__half, 128, 64)                        \
  X(__half, 128, 128)                       \
  X(__nv_bfloat16, 64, 64)                  \
  X(__nv_bfloat16, 64, 128)                 \
  X(__nv_bfloat16, 128, 64)                 \
  X(__nv_bfloat16, 128, 128)

#define UNISPARSE_DECLARE_SM90_PREFILL(Element, kHeadDim, kBlockM)                         \
  extern template void launch_block_sparse_prefill_sm90<Element, kHeadDim, kBlockM>(       \
      const PrefillParams&, int, cudaStream_t);
UNISPARSE_SM90_PREFILL_INSTANCES(UNISPARSE_DECLARE_SM90_PREFILL)
#undef UNISPARSE_DECLARE_SM90_PREFILL

}  // namespace unisparse::cuda
