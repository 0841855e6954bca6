#pragma once
// Launch of the block-sparse prefill kernel; the one place where the runtime element type, head dim
// and block size become template parameters.
#include <cuda_runtime.h>

#include "framework/core/types.h"
#include "kernels/prefill/prefill_params.h"

namespace unisparse::cuda {

// Grid: (num_q_heads, num_q_blocks, batch). Throws Unsupported for a dtype other than fp16/bf16, a
// head dim other than 64/128 or a block size other than 64/128.
void launch_block_sparse_prefill(const PrefillParams& params, DType dtype, int head_dim, int batch,
                                 cudaStream_t stream);

// Substring of the kernel's name, for attributing CUPTI kernel records to the attention phase.
inline constexpr const char* kPrefillKernelName = "block_sparse_prefill_kernel";

}  // namespace unisparse::cuda
