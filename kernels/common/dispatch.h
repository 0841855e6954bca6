#pragma once
// Dispatch at one place: runtime values become template parameters here, and a value no kernel is
// instantiated for throws Unsupported naming the caller (e.g. "cuda selector") and the value.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <string>

#include "framework/core/error.h"
#include "framework/core/types.h"
#include "kernels/common/kv_storage.cuh"

namespace unisparse::cuda {

[[noreturn]] inline void throw_not_instantiated(const char* caller, const std::string& what,
                                                const char* instantiated) {
  throw Unsupported(std::string(caller) + ": " + what + " is not implemented (" + instantiated + ")");
}

}  // namespace unisparse::cuda

// The type of the key statistics (and of 16-bit K/V): the workload's dtype.
#define UNISPARSE_DISPATCH_KV_DTYPE(caller, dtype, KvType, ...)                                \
  [&] {                                                                                        \
    switch (dtype) {                                                                           \
      case ::unisparse::DType::fp16: { using KvType = __half; return __VA_ARGS__(); }         \
      case ::unisparse::DType::bf16: { using KvType = __nv_bfloat16; return __VA_ARGS__(); }  \
      default:                                                                                 \
        ::unisparse::cuda::throw_not_instantiated(                                             \
            caller, "kv_dtype " + std::string(::unisparse::to_string(dtype)), "fp16, bf16");   \
    }                                                                                          \
  }()

// The storage format of the KV cache (kernels/common/kv_storage.cuh).
#define UNISPARSE_DISPATCH_KV_STORAGE(caller, format, Storage, ...)                            \
  [&] {                                                                                        \
    switch (format) {                                                                          \
      case ::unisparse::DType::fp16: { using Storage = Float16Storage<__half>; return __VA_ARGS__(); } \
      case ::unisparse::DType::bf16: { using Storage = Float16Storage<__nv_bfloat16>; return __VA_ARGS__(); } \
      case ::unisparse::DType::int8: { using Storage = Int8Storage; return __VA_ARGS__(); }   \
      case ::unisparse::DType::int4: { using Storage = Int4Storage; return __VA_ARGS__(); }   \
      case ::unisparse::DType::fp8: { using Storage = Fp8Storage; return __VA_ARGS__(); }     \
      default:                                                                                 \
        ::unisparse::cuda::throw_not_instantiated(                                             \
            caller, "KV storage " + std::string(::unisparse::to_string(format)),               \
            "fp16, bf16, int8, int4, fp8");                                                    \
    }                                                                                          \
  }()

#define UNISPARSE_DISPATCH_HEAD_DIM(caller, head_dim, kHeadDim, ...)                           \
  [&] {                                                                                        \
    switch (head_dim) {                                                                        \
      case 64: { constexpr int kHeadDim = 64; return __VA_ARGS__(); }                         \
      case 128: { constexpr int kHeadDim = 128; return __VA_ARGS__(); }                       \
      default:                                                                                 \
        ::unisparse::cuda::throw_not_instantiated(                                             \
            caller, "head_dim " + std::to_string(head_dim), "64, 128");                        \
    }                                                                                          \
  }()

// Query heads served by one load of a KV page.
#define UNISPARSE_DISPATCH_GROUP(caller, group, kGroup, ...)                                   \
  [&] {                                                                                        \
    switch (group) {                                                                           \
      case 1: { constexpr int kGroup = 1; return __VA_ARGS__(); }                             \
      case 2: { constexpr int kGroup = 2; return __VA_ARGS__(); }                             \
      case 4: { constexpr int kGroup = 4; return __VA_ARGS__(); }                             \
      case 8: { constexpr int kGroup = 8; return __VA_ARGS__(); }                             \
      default:                                                                                 \
        ::unisparse::cuda::throw_not_instantiated(                                             \
            caller, "a query group of " + std::to_string(group) + " heads", "1, 2, 4, 8");     \
    }                                                                                          \
  }()
