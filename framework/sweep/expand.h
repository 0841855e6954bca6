#pragma once
// Sweep expansion: the cartesian product of a sweep's backends and axes, each point marked valid or
// skipped with a reason. Invalid combinations are skipped, never clamped (two points must never
// measure the same thing under different labels).
#include <string>
#include <utility>
#include <vector>

#include "framework/config/point.h"
#include "framework/config/sweep_config.h"

namespace unisparse {

struct ExpandedPoint {
  int point_id;        // 0-based, stable for a given sweep (order: backends outermost, then axes in
                       // file order, last axis fastest)
  PointConfig config;  // config.backend set
  std::vector<std::pair<std::string, std::string>> axis_values;  // key -> value for this point
  std::string skip_reason;                                       // empty = valid
};

std::vector<ExpandedPoint> expand(const SweepConfig& sweep);

// Why a point cannot run as configured; "" when it is valid. Rules, first match wins:
//   always:                              num_q_heads % num_kv_heads != 0;
//                                        timing.max_iters < timing.min_iters
//   decode:                              decode_steps < 1
//   decode with page selection (mode dynamic or static+dynamic):
//                                        reuse_interval < 1;
//                                        logical_page_size > page_size;
//                                        page_size % logical_page_size != 0;
//                                        token_budget < page_size;
//                                        token_budget % page_size != 0
// Prefill ignores the decode-only values (decode_steps, page geometry, budget, reuse, GQA
// selection); dense and static-only decode ignore the selection values (logical pages, budget,
// reuse). reference_batches > batch is not a skip: evaluation uses min(reference_batches, batch).
std::string skip_reason(const PointConfig& point);

}  // namespace unisparse
