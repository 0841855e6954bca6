#pragma once
// Host entry of the CUDA prefill path: the cuda backend's prefill() calls this.
#include "framework/backend/backend.h"

namespace unisparse::cuda {

// Copies each sequence's Q/K/V to the GPU in the workload dtype (fp16 or bf16), runs the
// block-sparse prefill kernel for the plan, and returns per sequence [num_q_heads, T, head_dim] float.
// With options.measure the kernel is then timed with time_gpu (attention_us = total_us). Throws
// Unsupported for other dtypes, head dims other than 64/128 and block sizes other than 64/128, and
// std::invalid_argument for a plan that does not match the workload.
PrefillRun cuda_prefill(const Workload& workload, const PrefillPlan& plan, const RunOptions& options);

}  // namespace unisparse::cuda
