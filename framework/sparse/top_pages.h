#pragma once
// The page-selection rule of framework/DESIGN.md, Selection rules, as a pure function of the
// physical page scores. Quest scores are fp32 upper bounds; the oracle's scores are fp64 softmax
// masses (oracle_pages.h): one rule for both.
#include <cstdint>
#include <span>
#include <vector>

namespace unisparse {

// Physical pages attended out of num_pages (page num_pages - 1 is the current, possibly partial,
// last page), for a budget of k pages (k >= 1):
//  * num_pages <= k: every page;
//  * otherwise the last page plus the k - 1 highest-scoring pages among 0 .. num_pages - 2 (the last
//    page's score is not read), ties broken by the lower page index.
// Returns ascending page ids. physical_scores holds at least num_pages - 1 scores.
std::vector<int32_t> top_pages(std::span<const float> physical_scores, int num_pages, int k);
std::vector<int32_t> top_pages(std::span<const double> physical_scores, int num_pages, int k);

// The k - 1 pages of top_pages() other than the last page, ascending (every page but the last when
// num_pages <= k): what the selector caches for reuse between selector steps.
std::vector<int32_t> top_scored_pages(std::span<const float> physical_scores, int num_pages, int k);
std::vector<int32_t> top_scored_pages(std::span<const double> physical_scores, int num_pages, int k);

}  // namespace unisparse
