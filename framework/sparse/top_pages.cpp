#include "framework/sparse/top_pages.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

namespace unisparse {

namespace {

template <class Score>
std::vector<int32_t> top_scored(std::span<const Score> physical_scores, int num_pages, int k) {
  if (k < 1) throw std::invalid_argument("top_pages: k = " + std::to_string(k) + ", must be >= 1");
  const int num_scored = std::max(0, num_pages - 1);  // the last page is never scored
  if (static_cast<int>(physical_scores.size()) < num_scored)
    throw std::invalid_argument("top_pages: " + std::to_string(physical_scores.size()) +
                                " scores for " + std::to_string(num_pages) + " pages");
  std::vector<int32_t> pages(num_scored);
  std::iota(pages.begin(), pages.end(), 0);
  if (num_pages > k) {
    // Higher score first, then lower page index: a strict total order, so the result is unique.
    const auto before = [&](int32_t a, int32_t b) {
      if (physical_scores[a] != physical_scores[b]) return physical_scores[a] > physical_scores[b];
      return a < b;
    };
    std::nth_element(pages.begin(), pages.begin() + (k - 1), pages.end(), before);
    pages.resize(k - 1);
    std::sort(pages.begin(), pages.end());
  }
  return pages;
}

template <class Score>
std::vector<int32_t> top_with_last(std::span<const Score> physical_scores, int num_pages, int k) {
  std::vector<int32_t> pages = top_scored(physical_scores, num_pages, k);
  if (num_pages > 0) pages.push_back(num_pages - 1);
  return pages;
}

}  // namespace

std::vector<int32_t> top_scored_pages(std::span<const float> physical_scores, int num_pages, int k) {
  return top_scored(physical_scores, num_pages, k);
}

std::vector<int32_t> top_scored_pages(std::span<const double> physical_scores, int num_pages, int k) {
  return top_scored(physical_scores, num_pages, k);
}

std::vector<int32_t> top_pages(std::span<const float> physical_scores, int num_pages, int k) {
  return top_with_last(physical_scores, num_pages, k);
}

std::vector<int32_t> top_pages(std::span<const double> physical_scores, int num_pages, int k) {
  return top_with_last(physical_scores, num_pages, k);
}

}  // namespace unisparse
