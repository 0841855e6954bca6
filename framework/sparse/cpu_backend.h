#pragma once
// The CPU backend: the same algorithms as the CUDA backend (statistics, selection, sparse decode and
// prefill) in fp32 with fp64 softmax accumulation, exact page sets; the accuracy oracle's twin.
#include <memory>

#include "framework/backend/backend.h"

namespace unisparse {

// Times are wall clock ("wall"): options.timing.warmup unmeasured passes, then
// max(1, options.timing.min_iters) measured passes (one with options.profile), medians reported.
// Decode phases are per step; the selector's time is its total over the steps divided by the number
// of steps, i.e. amortised over the reuse interval, and includes top-k (topk_us stays empty).
std::unique_ptr<Backend> make_cpu_backend();

}  // namespace unisparse
