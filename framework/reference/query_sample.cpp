#include "framework/reference/query_sample.h"

#include <algorithm>
#include <numeric>
#include <random>

namespace unisparse {

std::vector<int32_t> sample_query_rows(int num_queries, int count, uint64_t seed) {
  std::vector<int32_t> rows(std::max(num_queries, 0));
  std::iota(rows.begin(), rows.end(), 0);
  if (count <= 0 || count >= num_queries) return rows;
  // Partial Fisher-Yates: the first `count` slots become a uniform sample without replacement.
  std::mt19937_64 generator(seed);
  for (int i = 0; i < count; ++i) {
    std::uniform_int_distribution<int> pick(i, num_queries - 1);
    std::swap(rows[i], rows[pick(generator)]);
  }
  rows.resize(count);
  std::sort(rows.begin(), rows.end());
  return rows;
}

}  // namespace unisparse
