#include <stdexcept>

#include "framework/backend/backend.h"
#include "framework/core/error.h"
#include "framework/sparse/cpu_backend.h"
#ifdef UNISPARSE_WITH_CUDA
#include "kernels/api.h"
#endif

namespace unisparse {

std::vector<std::string> available_backends() {
#ifdef UNISPARSE_WITH_CUDA
  return {"cpu", "cuda"};
#else
  return {"cpu"};
#endif
}

std::unique_ptr<Backend> make_backend(const std::string& name) {
  if (name == "cpu") return make_cpu_backend();
#ifdef UNISPARSE_WITH_CUDA
  if (name == "cuda") return make_cuda_backend();
#else
  if (name == "cuda")
    throw Unsupported("backend 'cuda' is not built (no nvcc at configure time or UNISPARSE_CUDA=OFF)");
#endif
  throw InputError("unknown backend '" + name + "' (known: cpu, cuda)");
}

}  // namespace unisparse
