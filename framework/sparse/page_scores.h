#pragma once
// Quest page scores (framework/DESIGN.md, Selection rules): the upper bound of q.k over the keys of
// a page, from the page's per-channel key maximum and minimum, and the hierarchical-paging
// reduction of logical-page scores to physical pages.
#include <span>
#include <vector>

#include "framework/core/types.h"
#include "framework/sparse/key_stats.h"

namespace unisparse {

// S = sum_i max(q[i] * kmax[i], q[i] * kmin[i]), accumulated in fp32 in channel order
// i = 0, 1, ..., head_dim - 1. A GPU may sum in another order (a tree over lanes), so its scores
// can differ in the last bits: comparisons of selections must tolerate near-ties.
float logical_page_score(std::span<const float> query, std::span<const float> kmax,
                         std::span<const float> kmin);

// Scores of the physical pages 0 .. ceil(num_tokens / physical_page_size) - 1 for one query
// ([head_dim]) against the statistics of its KV head: a physical page scores the maximum of its
// logical pages' scores (only logical pages holding tokens count, so a partial last physical page
// scores its filled logical pages). num_tokens = stats.num_tokens().
std::vector<float> physical_page_scores(std::span<const float> query, const KeyStats& stats,
                                        const PageGeometry& geometry);

}  // namespace unisparse
