#pragma once
// A one-sequence Workload built from numpy arrays, for the core functions that read a Workload
// (selection over a whole decode, the CPU backend's decode and prefill, the cuda backend). The
// Workload owns its tensors, so the arrays are copied into it once.
#include <optional>

#include "arrays.h"
#include "framework/workload/workload.h"

namespace unisparse::python {

// keys, values [num_kv_heads, T, head_dim]; queries [num_q_heads, T, head_dim] (prefill, optional);
// q_decode [steps, num_q_heads, head_dim], k_decode / v_decode [steps, num_kv_heads, head_dim]
// (decode, optional: absent = no decode steps). Shapes are checked against one another.
Workload workload_from_arrays(int num_q_heads, const FloatIn& keys, const FloatIn& values,
                             const std::optional<FloatIn>& queries,
                             const std::optional<FloatIn>& q_decode,
                             const std::optional<FloatIn>& k_decode,
                             const std::optional<FloatIn>& v_decode);

}  // namespace unisparse::python
