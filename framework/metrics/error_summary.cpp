#include "framework/metrics/error_summary.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace unisparse {
namespace {

template <class Reference>
double relative_l2_impl(std::span<const float> out, std::span<const Reference> ref) {
  double difference_sq = 0.0;
  double reference_sq = 0.0;
  for (size_t i = 0; i < out.size(); ++i) {
    const double r = static_cast<double>(ref[i]);
    const double d = static_cast<double>(out[i]) - r;
    difference_sq += d * d;
    reference_sq += r * r;
  }
  if (difference_sq == 0.0) return 0.0;
  const double error = std::sqrt(difference_sq / reference_sq);
  return std::isfinite(error) ? error : std::numeric_limits<double>::infinity();
}

}  // namespace

double relative_l2(std::span<const float> out, std::span<const double> ref) {
  return relative_l2_impl(out, ref);
}

double relative_l2(std::span<const float> out, std::span<const float> ref) {
  return relative_l2_impl(out, ref);
}

double percentile_nearest_rank(std::vector<double> values, double p) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  const auto n = static_cast<int64_t>(values.size());
  const auto rank = std::clamp<int64_t>(
      static_cast<int64_t>(std::ceil(p * static_cast<double>(n) / 100.0)), 1, n);
  std::nth_element(values.begin(), values.begin() + (rank - 1), values.end());
  return values[rank - 1];
}

ErrorSummary summarize_errors(const std::vector<double>& row_errors) {
  if (row_errors.empty()) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    return {nan, nan, nan};
  }
  const double sum = std::accumulate(row_errors.begin(), row_errors.end(), 0.0);
  return {sum / static_cast<double>(row_errors.size()), percentile_nearest_rank(row_errors, 99.0),
          *std::max_element(row_errors.begin(), row_errors.end())};
}

}  // namespace unisparse
