#pragma once
// Accuracy regression check: compares a run's accuracy metrics point by point with a baseline run,
// under tolerances declared in the baseline directory (tolerances.yaml).
#include <string>
#include <vector>

namespace unisparse {

struct MetricTolerance {
  std::string metric;
  bool higher_is_better = true;  // attn_recall: higher is better; out_rel_l2_*: lower is better
  double absolute = 0.0;
  double relative = 0.0;  // of |baseline value|
};

struct Regression {
  std::string point_key;
  std::string point;  // the point's axis values, "page_size=16 token_budget=512"
  std::string metric;
  std::string baseline;  // value as text ("empty" when missing)
  std::string current;
};

struct CheckReport {
  int points_compared = 0;
  std::vector<Regression> regressions;
};

// Reads <baseline_dir>/tolerances.yaml (strict: unknown keys are errors naming file, line, key).
std::vector<MetricTolerance> load_tolerances(const std::string& path);

// Compares <run_dir>/points.jsonl with <baseline_dir>/points.jsonl. A point of the baseline that is
// missing from the run, or whose status changed from ok, is a regression too.
CheckReport check_run(const std::string& run_dir, const std::string& baseline_dir);

}  // namespace unisparse
