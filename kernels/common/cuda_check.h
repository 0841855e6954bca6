#pragma once
// Error checking for CUDA runtime calls and kernel launches: every failure becomes an exception that
// names the call and where it happened.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace unisparse::cuda {

inline void check_cuda(cudaError_t status, const char* what, const char* file, int line) {
  if (status != cudaSuccess)
    throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + what + ": " +
                             cudaGetErrorString(status));
}

}  // namespace unisparse::cuda

#define UNISPARSE_CUDA_CHECK(call) ::unisparse::cuda::check_cuda((call), #call, __FILE__, __LINE__)
// After a launch: configuration errors show up here, execution errors at the next synchronisation.
#define UNISPARSE_CUDA_CHECK_LAUNCH() \
  ::unisparse::cuda::check_cuda(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
