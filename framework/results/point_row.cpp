#include "framework/results/point_row.h"

#include <charconv>
#include <cmath>

#include "framework/config/params.h"

namespace unisparse {

nlohmann::ordered_json number_or_null(double value) {
  if (!std::isfinite(value)) return nullptr;
  return value;
}

nlohmann::ordered_json typed_value(const std::string& text) {
  int64_t as_int = 0;
  auto [end_i, err_i] = std::from_chars(text.data(), text.data() + text.size(), as_int);
  if (err_i == std::errc() && end_i == text.data() + text.size()) return as_int;
  double as_double = 0;
  auto [end_d, err_d] = std::from_chars(text.data(), text.data() + text.size(), as_double);
  if (err_d == std::errc() && end_d == text.data() + text.size()) return as_double;
  return text;
}

Row point_columns(const std::string& sweep, int point_id, const PointConfig& point,
                  const std::vector<std::pair<std::string, std::string>>& axis_values) {
  Row row;
  row["sweep"] = sweep;
  row["point_id"] = point_id;
  row[kPointKeyColumn] = make_point_key(std::to_string(point_id), point.backend);
  row["status"] = "ok";
  row["reason"] = nullptr;
  row["phase"] = std::string(to_string(point.phase));
  row["backend"] = point.backend;
  row["mode"] = std::string(to_string(point.mode));
  row["model"] = point.model;
  row["workload"] = point.workload.name;
  for (const auto& [key, value] : describe(point))
    if (!row.contains(key)) row[key] = typed_value(value);
  for (const auto& [key, value] : axis_values) row["axis." + key] = typed_value(value);
  return row;
}

void add_accuracy(Row& row, const Accuracy& accuracy) {
  row["out_rel_l2_mean"] = number_or_null(accuracy.out_rel_l2_mean);
  row["out_rel_l2_p99"] = number_or_null(accuracy.out_rel_l2_p99);
  row["out_rel_l2_max"] = number_or_null(accuracy.out_rel_l2_max);
  row["attn_recall"] = number_or_null(accuracy.attn_recall);
  row["page_recall"] = number_or_null(accuracy.page_recall);
  row["needle_hit"] = number_or_null(accuracy.needle_hit);
  row["accuracy_rows"] = accuracy.rows;
}

void add_times(Row& row, const PhaseTimes& t) {
  row["time_us"] = number_or_null(t.total_us);
  row["time_us_min"] = number_or_null(t.total_min_us);
  row["time_us_max"] = number_or_null(t.total_max_us);
  row["time_stats_us"] = number_or_null(t.stats_us);
  row["time_selector_us"] = number_or_null(t.selector_us);
  row["time_topk_us"] = number_or_null(t.topk_us);
  row["time_attention_us"] = number_or_null(t.attention_us);
  row["time_merge_us"] = number_or_null(t.merge_us);
  row["time_prefill_us"] = number_or_null(t.prefill_us);
  row["time_step_graph_us"] = number_or_null(t.step_graph_us);
  row["timing_iterations"] = t.iterations;
  row["timer"] = t.timer.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(t.timer);
}

void add_roofline(Row& row, const RooflineModel& model, double time_us,
                  const DeviceCeilings& ceilings) {
  row["bytes_model"] = model.bytes;
  row["flops_model"] = model.flops;
  const AchievedRates rates = achieved_rates(model, time_us, ceilings);
  row["achieved_gbps"] = number_or_null(rates.gbps);
  row["achieved_tflops"] = number_or_null(rates.tflops);
  row["hbm_utilization"] = number_or_null(rates.bandwidth_utilisation);
  row["tensor_utilization"] = number_or_null(rates.compute_utilisation);
}

}  // namespace unisparse
