#pragma once
// The columns of one results row (README "Results"): a point's identity and parameters, then its
// accuracy, timing and roofline metrics. The runner fills a row with these; the CSV and JSONL writers
// take it as it is.
#include <string>
#include <utility>
#include <vector>

#include "framework/backend/backend.h"
#include "framework/config/point.h"
#include "framework/metrics/accuracy.h"
#include "framework/metrics/device_ceilings.h"
#include "framework/metrics/roofline.h"
#include "framework/results/row.h"

namespace unisparse {

// sweep, point_id, point_key, status "ok", reason null, phase, backend, mode, model, workload, every
// parameter of the table (numbers as numbers), then axis.<key> for each swept axis.
// axis_values: (key, value) of every swept axis at this point.
Row point_columns(const std::string& sweep, int point_id, const PointConfig& point,
                  const std::vector<std::pair<std::string, std::string>>& axis_values);

void add_accuracy(Row& row, const Accuracy& accuracy);
void add_times(Row& row, const PhaseTimes& times);
void add_roofline(Row& row, const RooflineModel& model, double time_us,
                  const DeviceCeilings& ceilings);

// A parameter's text value as a JSON number when it is one, else the text.
nlohmann::ordered_json typed_value(const std::string& text);
// null for NaN and infinities (an empty cell: "does not apply").
nlohmann::ordered_json number_or_null(double value);

}  // namespace unisparse
