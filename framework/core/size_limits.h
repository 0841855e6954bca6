#pragma once
// The largest workloads the harness accepts, and the overflow-checked product that sizes are
// compared with. The limits keep every token position inside int (positions, page ids and CSR
// entries are int32) and every element count and byte size far inside int64, so that no size
// computed from a config or a file header can wrap.
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>

namespace unisparse {

// Tokens of one sequence: the prefill context plus the decode steps appended after it.
inline constexpr int64_t kMaxSequenceTokens = int64_t{1} << 24;  // 16,777,216
// Elements of one workload tensor over its batch, batch x heads x tokens x head_dim: 2^40 floats
// (4 TiB) are beyond any host, and 2^40 x 8 bytes is still far from int64 overflow.
inline constexpr int64_t kMaxTensorElements = int64_t{1} << 40;

// The product of the factors when every factor is >= 0 and the product is at most `limit`;
// nullopt otherwise. Never overflows: a zero factor gives 0 whatever the others are.
inline std::optional<int64_t> product_within(std::span<const int64_t> factors, int64_t limit) {
  int64_t product = 1;
  for (int64_t factor : factors) {
    if (factor < 0) return std::nullopt;
    if (factor == 0) product = 0;
  }
  if (product == 0) return 0;
  for (int64_t factor : factors)
    if (__builtin_mul_overflow(product, factor, &product) || product > limit) return std::nullopt;
  return product;
}

inline std::optional<int64_t> product_within(std::initializer_list<int64_t> factors,
                                             int64_t limit) {
  return product_within(std::span<const int64_t>(factors.begin(), factors.size()), limit);
}

}  // namespace unisparse
