#pragma once
// The online-softmax state every attention kernel keeps: the CUDA-core and the tensor-core decode
// kernels per lane, the end of a decode block and the merge of decode splits, and the prefill tiles
// per fragment row. Written once, so that the conventions (log2 units, -inf before the first key,
// which factor rescales what) are the same everywhere.
//
// Logits are in log2 units (q . k * softmax scale * log2 e), so a key's weight is
// exp2(logit - max). The accumulator of weighted values belongs to the caller (its shape differs per
// kernel); every move of the max returns the factor that rescales it.
#include <cuda_runtime.h>

#include <cmath>

#include "kernels/common/warp_mma.cuh"

namespace unisparse::cuda {

struct SoftmaxState {
  float max = -INFINITY;  // the largest logit folded in; -inf before the first finite one
  float sum = 0.0f;       // sum of exp2(logit - max) over the logits folded in (this thread's share)

  // Raises the max to cover logits up to tile_max and rescales the sum. Returns the factor that
  // rescales the accumulator as well: exp2(old max - new max); exactly 1 when the max does not move
  // (also while every logit so far is -inf), 0 when the first finite max arrives.
  __device__ __forceinline__ float raise_max(float tile_max) {
    const float new_max = fmaxf(max, tile_max);
    const float factor = new_max == max ? 1.0f : ptx::fast_exp2(max - new_max);
    max = new_max;
    sum *= factor;
    return factor;
  }
  // The weight of a logit in the state's units, exp2(logit - max): 0 for a -inf logit, also
  // before any finite max (no -inf - -inf).
  __device__ __forceinline__ float weight(float logit) const {
    return ptx::fast_exp2(logit - finite_max());
  }
  // The same for a raw logit that still needs the scale: exp2(raw * scale_log2 - max) in one fma.
  __device__ __forceinline__ float weight(float raw_logit, float scale_log2) const {
    return ptx::fast_exp2(fmaf(raw_logit, scale_log2, -finite_max()));
  }
  // The factor that brings what was accumulated under this state to a common max (>= this max):
  // exp2(max - common_max), 0 for a state that saw no finite logit.
  __device__ __forceinline__ float factor_to(float common_max) const {
    return max == -INFINITY ? 0.0f : ptx::fast_exp2(max - common_max);
  }
  __device__ __forceinline__ float finite_max() const { return max == -INFINITY ? 0.0f : max; }
};

// The state of the union of `count` disjoint key sets from their states (state_at(i) returns the
// i-th): the common max, and every sum brought to it. Each set's accumulator joins with the factor
// state_at(i).factor_to(merged.max).
template <class StateAt>
__device__ __forceinline__ SoftmaxState merge_states(int count, StateAt state_at) {
  SoftmaxState merged;
  for (int i = 0; i < count; ++i) merged.max = fmaxf(merged.max, state_at(i).max);
  for (int i = 0; i < count; ++i) {
    const SoftmaxState part = state_at(i);
    merged.sum += part.sum * part.factor_to(merged.max);
  }
  return merged;
}

}  // namespace unisparse::cuda
