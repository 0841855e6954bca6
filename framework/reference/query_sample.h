#pragma once
// Long prefills are checked on a sample of query rows: the reference is exact for those rows, and
// the sample is a pure function of (num_queries, count, seed) so every backend is checked on the
// same rows.
#include <cstdint>
#include <vector>

namespace unisparse {

// `count` distinct query rows of [0, num_queries), ascending, drawn uniformly with the given seed.
// count <= 0 or count >= num_queries selects every row.
std::vector<int32_t> sample_query_rows(int num_queries, int count, uint64_t seed);

}  // namespace unisparse
