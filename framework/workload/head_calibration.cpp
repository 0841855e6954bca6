#include "framework/workload/head_calibration.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <utility>

namespace unisparse {

int HeadCalibration::num_kv_heads() const {
  if (scores.empty() || !scores.count(metric) || ranking().empty()) return 0;
  return static_cast<int>(ranking().front().size());
}

int HeadCalibration::layer_index(int layer) const {
  const auto found = std::find(layers.begin(), layers.end(), layer);
  return found == layers.end() ? -1 : static_cast<int>(found - layers.begin());
}

std::vector<std::vector<bool>> streaming_by_global_quantile(
    const std::vector<std::vector<double>>& cost, double fraction, bool highest_first) {
  if (fraction < 0.0 || fraction > 1.0)
    throw std::invalid_argument("streaming fraction " + std::to_string(fraction) +
                                " is not in [0, 1]");
  std::vector<std::pair<int, int>> pairs;  // (layer index, KV head) in layer-major order
  std::vector<std::vector<bool>> streaming(cost.size());
  for (size_t layer = 0; layer < cost.size(); ++layer) {
    streaming[layer].assign(cost[layer].size(), false);
    for (size_t head = 0; head < cost[layer].size(); ++head)
      pairs.emplace_back(static_cast<int>(layer), static_cast<int>(head));
  }
  const auto count = static_cast<size_t>(std::lround(fraction * static_cast<double>(pairs.size())));
  // stable_sort keeps layer-major order among equal costs: ties go to the lower layer, then head.
  std::stable_sort(pairs.begin(), pairs.end(), [&](const auto& a, const auto& b) {
    const double cost_a = cost[a.first][a.second], cost_b = cost[b.first][b.second];
    return highest_first ? cost_a > cost_b : cost_a < cost_b;
  });
  for (size_t i = 0; i < count; ++i) streaming[pairs[i].first][pairs[i].second] = true;
  return streaming;
}

}  // namespace unisparse
