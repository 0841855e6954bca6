#pragma once
// The oracle's page choice: the physical pages holding the most softmax mass of a query. The
// oracle page selector (page_selector.h) ranks pages by these masses and the page_recall metric
// (metrics/accuracy.h) compares a selection with oracle_pages(): one rule for both.
#include <cstdint>
#include <span>
#include <vector>

namespace unisparse {

// Mass of each physical page: [ceil(weights.size() / physical_page_size)], page p summing the
// weights of tokens [p * page, (p + 1) * page). weights: [tokens], the softmax weights of one query
// over tokens 0 .. tokens - 1.
std::vector<double> page_masses(std::span<const double> weights, int physical_page_size);

// The k pages of a budget chosen by mass under top_pages() (top_pages.h): the current last page
// plus the k - 1 other pages of highest mass, ties to the lower page id, every page when the
// context has at most k pages. Ascending page ids.
std::vector<int32_t> oracle_pages(std::span<const double> weights, int physical_page_size, int k);

}  // namespace unisparse
