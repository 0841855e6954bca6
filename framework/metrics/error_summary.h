#pragma once
// Per-row relative L2 errors and their summary (mean, nearest-rank p99, max), shared by the
// accuracy metrics (output vs the fp64 reference) and the kernel-vs-CPU agreement.
#include <span>
#include <vector>

namespace unisparse {

// ||out - ref|| / ||ref||. A row whose error is not finite (NaN or Inf in out, or a zero reference
// with a non-zero out) counts as +infinity, so a poisoned output shows as a failure and never as an
// empty cell; a zero out against a zero reference is 0.
double relative_l2(std::span<const float> out, std::span<const double> ref);
double relative_l2(std::span<const float> out, std::span<const float> ref);

// Nearest-rank percentile (p in (0, 100]) of the values: the ceil(p/100 * n)-th smallest.
// NaN when values is empty.
double percentile_nearest_rank(std::vector<double> values, double p);

struct ErrorSummary {  // NaN when there are no rows
  double mean;
  double p99;
  double max;
};
ErrorSummary summarize_errors(const std::vector<double>& row_errors);

}  // namespace unisparse
