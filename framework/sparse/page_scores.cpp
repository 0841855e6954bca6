#include "framework/sparse/page_scores.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace unisparse {

float logical_page_score(std::span<const float> query, std::span<const float> kmax,
                         std::span<const float> kmin) {
  float score = 0.0f;
  for (size_t i = 0; i < query.size(); ++i)
    score += std::max(query[i] * kmax[i], query[i] * kmin[i]);
  return score;
}

std::vector<float> physical_page_scores(std::span<const float> query, const KeyStats& stats,
                                        const PageGeometry& geometry) {
  if (stats.logical_page_size() != geometry.logical_page_size ||
      geometry.physical_page_size % geometry.logical_page_size != 0)
    throw std::invalid_argument(
        "physical_page_scores: the statistics' logical page size must be the geometry's and divide "
        "the physical page size");
  const int num_physical = static_cast<int>(ceil_div(stats.num_tokens(), geometry.physical_page_size));
  const int logical_per_physical = geometry.logical_per_physical();
  const int num_logical = stats.num_logical_pages();
  std::vector<float> scores(num_physical, -std::numeric_limits<float>::infinity());
  for (int logical = 0; logical < num_logical; ++logical) {
    float& physical_score = scores[logical / logical_per_physical];
    physical_score = std::max(physical_score,
                              logical_page_score(query, stats.kmax(logical), stats.kmin(logical)));
  }
  return scores;
}

}  // namespace unisparse
