#include "framework/core/parallel.h"

#include <cstdlib>

namespace unisparse {

int hardware_threads() {
  if (const char* env = std::getenv("UNISPARSE_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace unisparse
