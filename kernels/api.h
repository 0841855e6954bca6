#pragma once
// The one header through which the framework reaches the CUDA kernels.
#include <memory>

#include "framework/backend/backend.h"

namespace unisparse {

// The cuda backend: paged KV cache, key statistics, selector, top-k, decode and prefill attention.
std::unique_ptr<Backend> make_cuda_backend();

}  // namespace unisparse
