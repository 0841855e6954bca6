#pragma once
// A minimal parallel-for over [0, n) on std::thread, for the CPU reference and backend.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace unisparse {

int hardware_threads();

// Calls body(i) for every i in [0, n), dynamically scheduled over hardware_threads() threads.
template <class Body>
void parallel_for(int64_t n, Body&& body) {
  const int threads = static_cast<int>(std::min<int64_t>(hardware_threads(), n));
  if (threads <= 1) {
    for (int64_t i = 0; i < n; ++i) body(i);
    return;
  }
  std::atomic<int64_t> next{0};
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (int64_t i = next++; i < n; i = next++) body(i);
    });
  for (auto& th : pool) th.join();
}

}  // namespace unisparse
