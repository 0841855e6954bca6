#pragma once
// Launch of the block-sparse prefill kernel; the one place where the runtime element type, head dim
// and block size become template parameters, and where the kernel path is chosen: the sm_90a kernel
// (wgmma + TMA) on a compute capability 9.0 device, the sm_80 kernel (mma.sync + cp.async) elsewhere,
// either one forced by UNISPARSE_PREFILL_KERNEL (prefill_kernel_path.h).
#include <cuda_runtime.h>

#include "framework/core/types.h"
#include "kernels/prefill/prefill_kernel_path.h"
#include "kernels/prefill/prefill_params.h"

namespace unisparse::cuda {

// Grid: (num_q_heads, num_q_blocks, batch). Returns the path that ran. Throws Unsupported for a dtype
// other than fp16/bf16, a head dim other than 64/128, a block size other than 64/128, or a forced sm90
// path that cannot run here; InputError for an unknown UNISPARSE_PREFILL_KERNEL value.
PrefillKernelPath launch_block_sparse_prefill(const PrefillParams& params, DType dtype, int head_dim,
                                              int batch, cudaStream_t stream);

// Substring of both kernels' names, for attributing CUPTI kernel records to the attention phase.
inline constexpr const char* kPrefillKernelName = "block_sparse_prefill_kernel";

}  // namespace unisparse::cuda
