#include "framework/cli/commands.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

#include "framework/backend/backend.h"
#include "framework/cli/args.h"
#include "framework/config/sweep_config.h"
#include "framework/core/error.h"
#include "framework/results/params_table.h"
#include "framework/sparse/page_selector.h"
#include "framework/sweep/expand.h"
#include "framework/sweep/regression_check.h"
#include "framework/sweep/runner.h"
#include "framework/sweep/shard.h"
#include "framework/workload/trace.h"

namespace unisparse::cli {

namespace fs = std::filesystem;

std::string find_source_dir(const std::string& start) {
  std::error_code error;
  fs::path dir = fs::absolute(start.empty() ? fs::path(".") : fs::path(start), error);
  if (!fs::is_directory(dir)) dir = dir.parent_path();
  for (fs::path probe = dir; !probe.empty(); probe = probe.parent_path()) {
    if (fs::is_directory(probe / "configs" / "models")) return probe.string();
    if (probe == probe.parent_path()) break;
  }
  return fs::current_path().string();
}

std::vector<Override> sweep_overrides(const std::vector<std::string>& axis_overrides,
                                      const std::vector<std::string>& fixed_overrides,
                                      const std::string& backend) {
  std::vector<Override> overrides;
  for (const std::string& text : axis_overrides) overrides.push_back({Override::axis, text});
  for (const std::string& text : fixed_overrides) overrides.push_back({Override::fixed, text});
  // --backend is the override of the sweep's backends list, validated like one.
  if (!backend.empty()) overrides.push_back({Override::fixed, "backends=[" + backend + "]"});
  return overrides;
}

int run_command(const std::vector<std::string>& args, const std::vector<std::string>& argv) {
  std::string sweep_path, backend, results_root, run_id, resume_dir, configs_dir, shard;
  std::vector<std::string> axis_overrides, fixed_overrides;
  bool profile = false, quiet = false, dump_plans = false;
  ArgParser parser("unisparse run SWEEP.yaml [-a key=[v1,v2]] [--set key=value] [options]",
                   "Runs every point of a sweep on its backends, scores each against the dense fp64\n"
                   "reference and writes results/<sweep>/<run-id>/{config.yaml, points.jsonl,\n"
                   "points.csv, meta.json}. Bad input exits with code 2 before anything is written.");
  parser.positional("SWEEP.yaml", &sweep_path, "the sweep file");
  parser.repeated("-a", &axis_overrides, "key=[v1,v2]", "replace or add an axis");
  parser.repeated("--set", &fixed_overrides, "key=value",
                  "set a fixed value (fixed.key=value and timing.key=value also work)");
  parser.option("--backend", &backend, "cpu|cuda", "run only this backend (overrides backends:)");
  parser.option("--results", &results_root, "DIR", "results root (default: <repo>/results)");
  parser.option("--run-id", &run_id, "ID", "run directory name (default: UTC timestamp)");
  parser.option("--resume", &resume_dir, "RUN_DIR",
                "append to an interrupted run, skipping the points it already has");
  parser.option("--configs", &configs_dir, "DIR", "configs directory (default: <repo>/configs)");
  parser.option("--shard", &shard, "I/N",
                "run shard I of N (0 <= I < N) into <run_dir>/shards/I-of-N/; needs --run-id, the\n"
                "                                  same for every shard, or --resume RUN_DIR; join\n"
                "                                  the shards with unisparse merge");
  parser.flag("--profile", &profile,
              "profiling mode: one measured iteration per point after warm-up, CUPTI off, NVTX on");
  parser.flag("--dump-plans", &dump_plans,
              "write each point's plans and selections to <run_dir>/plans/ as safetensors (CSR\n"
              "                                  page tables and FlexAttention BlockMask arrays)");
  parser.flag("--quiet", &quiet, "no progress output");
  if (!parser.parse(args)) return 0;
  const std::optional<Shard> run_shard =
      parser.given("--shard") ? std::optional<Shard>(parse_shard(shard)) : std::nullopt;

  const std::string source_dir = find_source_dir(fs::path(sweep_path).parent_path().string());
  if (configs_dir.empty()) configs_dir = source_dir + "/configs";
  const SweepConfig sweep =
      load_sweep(sweep_path, sweep_overrides(axis_overrides, fixed_overrides, backend), configs_dir);
  // Paths the run writes into or appends to must be what they claim before anything runs.
  if (!results_root.empty() && fs::exists(results_root) && !fs::is_directory(results_root))
    throw InputError("<command line>: --results '" + results_root + "': not a directory");
  if (!resume_dir.empty() && !fs::is_directory(resume_dir))
    throw InputError("<command line>: --resume '" + resume_dir + "': no such run directory");
  RunnerOptions options;
  options.results_root = results_root.empty() ? source_dir + "/results" : results_root;
  options.run_id = run_id;
  options.resume_dir = resume_dir;
  options.shard = run_shard;
  options.source_dir = source_dir;
  options.argv = argv;
  options.profile = profile;
  options.dump_plans = dump_plans;
  options.quiet = quiet;
  const std::string run_dir = run_sweep(sweep, options);
  std::printf("run_dir: %s\n", run_dir.c_str());
  return 0;
}

int list_command(const std::vector<std::string>& args) {
  std::string root;
  bool list_params = false, as_json = false;
  ArgParser parser("unisparse list [--root DIR] [--params [--json]]",
                   "Lists the sweeps (sweeps/*.yaml), models, workloads and the backends built in;\n"
                   "with --params, every sweep parameter with its role, label and meaning.");
  parser.option("--root", &root, "DIR", "repository root (default: found from the current directory)");
  parser.flag("--params", &list_params, "list the sweep parameters instead");
  parser.flag("--json", &as_json, "with --params: one JSON array (key, role, label, short, kind, description)");
  if (!parser.parse(args)) return 0;
  if (as_json && !list_params) throw InputError("<command line>: --json: only with --params");
  if (list_params) {
    const nlohmann::ordered_json table = params_table_json();
    if (as_json) {
      std::cout << table.dump(1) << "\n";
      return 0;
    }
    for (const auto& entry : table)
      std::printf("  %-36s %-10s %s\n", entry["key"].get<std::string>().c_str(),
                  entry["role"].get<std::string>().c_str(),
                  entry["description"].get<std::string>().c_str());
    return 0;
  }
  if (!root.empty() && !fs::is_directory(fs::path(root) / "sweeps"))
    throw InputError("<command line>: --root '" + root +
                     "': not a unisparse repository (no sweeps/ folder in it)");
  const std::string source_dir = root.empty() ? find_source_dir(".") : root;
  auto stems = [&](const std::string& folder) {
    std::vector<fs::path> files;
    if (fs::is_directory(folder))
      for (const auto& entry : fs::directory_iterator(folder))
        if (entry.path().extension() == ".yaml") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    return files;
  };
  std::printf("sweeps:\n");
  for (const fs::path& file : stems(source_dir + "/sweeps")) {
    std::string summary;
    try {
      const SweepConfig sweep = load_sweep(file.string(), {}, source_dir + "/configs");
      size_t points = sweep.backends.size();
      for (const Axis& axis : sweep.axes) points *= axis.values.size();
      summary = std::string(to_string(sweep.base.phase)) + ", " + std::to_string(points) +
                " points" + (sweep.description.empty() ? "" : ": " + sweep.description);
    } catch (const std::exception& error) {
      summary = std::string("invalid: ") + error.what();
    }
    std::printf("  %-28s %s\n", file.stem().c_str(), summary.c_str());
  }
  std::printf("models:\n");
  for (const fs::path& file : stems(source_dir + "/configs/models"))
    std::printf("  %s\n", file.stem().c_str());
  std::printf("workloads:\n");
  for (const fs::path& file : stems(source_dir + "/configs/workloads"))
    std::printf("  %s\n", file.stem().c_str());
  std::printf("backends:\n");
  for (const std::string& name : available_backends()) std::printf("  %s\n", name.c_str());
  return 0;
}

int select_command(const std::vector<std::string>& args) {
  std::string trace, page_size, logical_page_size, token_budget, reuse_interval, gqa = "per_query_head",
                     layer = "0", selector = "quest";
  ArgParser parser(
      "unisparse select --trace FILE --page-size P --logical-page-size L --token-budget B "
      "--reuse-interval R --gqa-selection MODE [--layer N] [--selector quest|oracle]",
      "Treats every head of the trace's layer as a dense head, runs its decode steps\n"
      "(q_decode/k_decode/v_decode) through the page selector and prints one JSON object\n"
      "{\"selections\": [...]}: per decode step, per query head, the ascending attended\n"
      "physical page ids (the forced last page included). The trace's values are used in\n"
      "the precision they are stored in; the options are checked like the sweep parameters\n"
      "of the same names.");
  parser.option("--trace", &trace, "FILE", "safetensors trace (README.md, Trace format)", true);
  parser.option("--page-size", &page_size, "P", "physical page size, tokens", true);
  parser.option("--logical-page-size", &logical_page_size, "L",
                "logical page size (divides P), tokens", true);
  parser.option("--token-budget", &token_budget, "B", "token budget (a multiple of P)", true);
  parser.option("--reuse-interval", &reuse_interval, "R", "selector runs every R steps", true);
  parser.option("--gqa-selection", &gqa, "MODE", "per_query_head | kv_head_max | kv_head_sum");
  parser.option("--layer", &layer, "N", "trace layer (default 0)");
  parser.option("--selector", &selector, "KIND",
                "quest (default): key-statistics bounds; oracle: the pages of highest true mass");
  if (!parser.parse(args)) return 0;

  PointConfig point;
  point.model.clear();  // shapes come from the trace
  point.shape = {};
  point.phase = Phase::decode;
  point.mode = SparsityMode::dynamic_only;
  // The sweep parameters' own checks (a page size is a power of two, ...), one rule wherever given.
  set_param_option(point, "--page-size", "page_size", page_size);
  set_param_option(point, "--logical-page-size", "logical_page_size", logical_page_size);
  set_param_option(point, "--token-budget", "token_budget", token_budget);
  set_param_option(point, "--reuse-interval", "reuse_interval", reuse_interval);
  set_param_option(point, "--gqa-selection", "gqa_selection", gqa);
  set_param_option(point, "--selector", "selector", selector);
  point.decode_steps = std::numeric_limits<int>::max();  // every decode step the trace holds
  const int layer_index = parse_int_option("--layer", layer);
  if (layer_index < 0)
    throw InputError("<command line>: option --layer expects a layer index >= 0, got " + layer);

  point.dtype = inspect_trace_layer(trace, layer_index, point).stored_dtype;
  Workload workload = read_trace(trace, layer_index, point);
  if (workload.decode_steps < 1)
    throw input_error(trace, 0, "layers." + std::to_string(layer_index) + ".q_decode",
                      "the trace has no decode steps to select for");
  point.shape = workload.shape;
  point.decode_steps = workload.decode_steps;
  if (std::string reason = skip_reason(point); !reason.empty())
    throw InputError("<command line>: invalid selection parameters: " + reason);

  DecodePlan plan;
  plan.mode = SparsityMode::dynamic_only;
  plan.heads = HeadLayout::all_dense(workload.shape.num_kv_heads);
  plan.geometry = {point.page_size, point.logical_page_size};
  plan.policy = {point.token_budget, point.reuse_interval, point.gqa_selection};
  plan.selector = point.selector;
  const DecodeSelections selections = select_all_steps(workload, plan);

  nlohmann::json steps = nlohmann::json::array();
  for (const Csr& step : selections) {
    nlohmann::json heads = nlohmann::json::array();
    for (int h = 0; h < workload.shape.num_q_heads; ++h) {
      const auto pages = step.row(h);  // batch 1: row = query head
      heads.push_back(std::vector<int32_t>(pages.begin(), pages.end()));
    }
    steps.push_back(std::move(heads));
  }
  std::cout << nlohmann::json{{"selections", steps}}.dump() << "\n";
  return 0;
}

int check_command(const std::vector<std::string>& args) {
  std::string run_dir, baseline_dir;
  ArgParser parser("unisparse check RUN_DIR --baseline BASELINE_DIR",
                   "Compares the accuracy metrics of RUN_DIR/points.jsonl point by point with the\n"
                   "baseline run, under the tolerances in BASELINE_DIR/tolerances.yaml. Prints one\n"
                   "line per regression and exits with 1 when there is any.");
  parser.positional("RUN_DIR", &run_dir, "the run to check");
  parser.option("--baseline", &baseline_dir, "DIR", "baseline run directory", true);
  if (!parser.parse(args)) return 0;
  const CheckReport report = check_run(run_dir, baseline_dir);
  for (const Regression& r : report.regressions)
    std::printf("regression: point %s (%s) %s: baseline %s, now %s\n", r.point_key.c_str(),
                r.point.c_str(), r.metric.c_str(), r.baseline.c_str(), r.current.c_str());
  std::printf("check: %d points compared, %zu regressions\n", report.points_compared,
              report.regressions.size());
  return report.regressions.empty() ? 0 : 1;
}

}  // namespace unisparse::cli
