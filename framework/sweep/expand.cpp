#include "framework/sweep/expand.h"

#include "framework/config/params.h"
#include "framework/core/error.h"

namespace unisparse {
namespace {

std::string selection_skip_reason(const PointConfig& point) {
  const std::string page = std::to_string(point.page_size);
  const std::string logical = std::to_string(point.logical_page_size);
  const std::string budget = std::to_string(point.token_budget);
  if (point.reuse_interval < 1)
    return "reuse_interval " + std::to_string(point.reuse_interval) + " < 1";
  if (point.logical_page_size > point.page_size)
    return "logical_page_size " + logical + " > page_size " + page;
  if (point.page_size % point.logical_page_size != 0)
    return "page_size " + page + " is not a multiple of logical_page_size " + logical;
  if (point.token_budget < point.page_size)
    return "token_budget " + budget + " < page_size " + page;
  if (point.token_budget % point.page_size != 0)
    return "token_budget " + budget + " is not a multiple of page_size " + page;
  return {};
}

}  // namespace

std::string skip_reason(const PointConfig& point) {
  const ModelShape& shape = point.shape;
  if (shape.num_q_heads % shape.num_kv_heads != 0)
    return "num_q_heads " + std::to_string(shape.num_q_heads) +
           " is not a multiple of num_kv_heads " + std::to_string(shape.num_kv_heads);
  if (point.timing.max_iters < point.timing.min_iters)
    return "timing.max_iters " + std::to_string(point.timing.max_iters) + " < timing.min_iters " +
           std::to_string(point.timing.min_iters);
  if (point.phase != Phase::decode) return {};
  if (point.decode_steps < 1)
    return "decode_steps " + std::to_string(point.decode_steps) + " < 1 in a decode point";
  if (uses_page_selection(point.mode)) return selection_skip_reason(point);
  return {};
}

std::vector<ExpandedPoint> expand(const SweepConfig& sweep) {
  size_t points_per_backend = 1;
  for (const Axis& axis : sweep.axes) points_per_backend *= axis.values.size();

  std::vector<ExpandedPoint> points;
  points.reserve(sweep.backends.size() * points_per_backend);
  for (const std::string& backend : sweep.backends) {
    for (size_t combination = 0; combination < points_per_backend; ++combination) {
      ExpandedPoint point{static_cast<int>(points.size()), sweep.base, {}, {}};
      point.config.backend = backend;
      // Mixed-radix digits of `combination`, the last axis the least significant.
      std::vector<size_t> value_index(sweep.axes.size());
      size_t rest = combination;
      for (size_t a = sweep.axes.size(); a-- > 0;) {
        value_index[a] = rest % sweep.axes[a].values.size();
        rest /= sweep.axes[a].values.size();
      }
      for (size_t a = 0; a < sweep.axes.size(); ++a) {
        const Axis& axis = sweep.axes[a];
        const std::string& value = axis.values[value_index[a]];
        try {
          set_param(point.config, axis.key, value);
        } catch (const ParamValueError& e) {
          throw input_error(sweep.source_path, 0, "axes." + axis.key, e.what());
        }
        point.axis_values.emplace_back(axis.key, value);
      }
      point.skip_reason = skip_reason(point.config);
      points.push_back(std::move(point));
    }
  }
  return points;
}

}  // namespace unisparse
