#include "framework/sweep/regression_check.h"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "framework/config/strict_yaml.h"
#include "framework/core/error.h"
#include "framework/sweep/model_points.h"

namespace unisparse {

namespace {

using Json = nlohmann::json;

std::map<std::string, Json> read_points(const std::string& run_dir) {
  const std::string path = run_dir + "/points.jsonl";
  std::ifstream in(path);
  if (!in) throw input_error(path, 0, "", "cannot read the run's points");
  std::map<std::string, Json> points;
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty()) continue;
    Json row;
    try {
      row = Json::parse(line);
    } catch (const std::exception& error) {
      throw input_error(path, line_number, "", std::string("not a JSON object: ") + error.what());
    }
    if (!row.contains("point_key") || !row["point_key"].is_string())
      throw input_error(path, line_number, "point_key", "missing");
    const std::string key = row["point_key"].get<std::string>();
    points[key] = std::move(row);
  }
  return points;
}

// The metric's value in a row: nullopt when absent or null; anything but a number is bad input
// naming the run's points file and the point.
std::optional<double> metric_value(const Json& row, const std::string& metric,
                                   const std::string& run_dir, const std::string& key) {
  if (!row.contains(metric) || row[metric].is_null()) return std::nullopt;
  if (!row[metric].is_number())
    throw InputError(run_dir + "/points.jsonl: point " + key + ": metric '" + metric + "' is " +
                     row[metric].type_name() + " " + row[metric].dump() +
                     ", expected a number or null");
  return row[metric].get<double>();
}

std::string value_text(const Json& row, const std::string& metric) {
  if (!row.contains(metric) || row[metric].is_null()) return "empty";
  std::ostringstream text;
  text.precision(6);
  text << row[metric].get<double>();
  return text.str();
}

std::string describe_point(const Json& row) {
  std::string text;
  for (const auto& [key, value] : row.items())
    if (key.rfind("axis.", 0) == 0)
      text += (text.empty() ? "" : " ") + key.substr(5) + "=" +
              (value.is_string() ? value.get<std::string>() : value.dump());
  return text.empty() ? "(no axes)" : text;
}

}  // namespace

std::vector<MetricTolerance> load_tolerances(const std::string& path) {
  // Only metrics the results carry: a misspelled metric would otherwise never be checked.
  static const std::vector<std::string> kMetrics = [] {
    std::vector<std::string> metrics{
        "out_rel_l2_mean", "out_rel_l2_p99", "out_rel_l2_max", "attn_recall", "page_recall",
        "needle_hit", "kernel_vs_cpu_page_agreement", "kernel_vs_cpu_out_rel_l2_max"};
    for (const std::string& metric : model_metric_names()) metrics.push_back(metric);
    return metrics;
  }();
  static const std::vector<std::string> kFields{"better", "abs", "rel"};
  const YamlSource source{path, ""};
  const YAML::Node root = load_yaml_file(path);
  std::vector<MetricTolerance> tolerances;
  for (const MapEntry& metric : strict_map(root, source, "", kMetrics)) {
    MetricTolerance tolerance;
    tolerance.metric = metric.key;
    for (const MapEntry& field : strict_map(metric.value, source, metric.key, kFields)) {
      const LocatedNode value = located(field, source, metric.key);
      const std::string text = scalar_text(value, field.key == "better" ? "higher or lower" : "a number");
      if (field.key == "better") {
        if (text != "higher" && text != "lower") throw value.error("expected higher or lower");
        tolerance.higher_is_better = text == "higher";
        continue;
      }
      double number = 0;
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
      if (error != std::errc() || end != text.data() + text.size() || !(number >= 0))
        throw value.error("expected a non-negative number, got '" + text + "'");
      (field.key == "abs" ? tolerance.absolute : tolerance.relative) = number;
    }
    tolerances.push_back(tolerance);
  }
  return tolerances;
}

CheckReport check_run(const std::string& run_dir, const std::string& baseline_dir) {
  const auto tolerances = load_tolerances(baseline_dir + "/tolerances.yaml");
  const auto baseline = read_points(baseline_dir);
  const auto current = read_points(run_dir);
  CheckReport report;
  for (const auto& [key, old_row] : baseline) {
    const std::string point = describe_point(old_row);
    const auto found = current.find(key);
    if (found == current.end()) {
      report.regressions.push_back({key, point, "status", old_row.value("status", "?"), "missing"});
      continue;
    }
    const Json& new_row = found->second;
    ++report.points_compared;
    const std::string old_status = old_row.value("status", "");
    const std::string new_status = new_row.value("status", "");
    if (old_status == "ok" && new_status != "ok") {
      report.regressions.push_back({key, point, "status", old_status, new_status});
      continue;
    }
    if (old_status != "ok") continue;
    for (const MetricTolerance& tolerance : tolerances) {
      const std::optional<double> old_metric =
          metric_value(old_row, tolerance.metric, baseline_dir, key);
      const std::optional<double> new_metric = metric_value(new_row, tolerance.metric, run_dir, key);
      if (!old_metric) continue;
      const bool has = new_metric.has_value();
      const double old_value = *old_metric;
      const double new_value = has ? *new_metric : std::nan("");
      const double allowed = tolerance.absolute + tolerance.relative * std::abs(old_value);
      const double worse_by =
          tolerance.higher_is_better ? old_value - new_value : new_value - old_value;
      if (!has || std::isnan(new_value) || worse_by > allowed)
        report.regressions.push_back({key, point, tolerance.metric, value_text(old_row, tolerance.metric),
                                      value_text(new_row, tolerance.metric)});
    }
  }
  return report;
}

}  // namespace unisparse
