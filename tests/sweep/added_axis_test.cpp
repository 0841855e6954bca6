// Adding an axis is one parameter-table entry plus the code that reads it. A parameter registered
// here (the physical page size as a power of two, read by the page size's own code) becomes a sweep
// axis, a results column with its axis.* twin and the labelled x axis of the run's figures
// (python -m analysis.plot_run, the project venv), with no other edit.
#include <gtest/gtest.h>

#include <bit>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "framework/config/params.h"
#include "framework/config/value_text.h"
#include "framework/config/sweep_config.h"
#include "framework/sweep/runner.h"
#include "tests/config/yaml_test_files.h"

namespace unisparse {
namespace {

namespace fs = std::filesystem;

Param page_size_log2() {
  Param param;
  param.key = "page_size_log2";
  param.role = ParamRole::plan;
  param.label = "physical page size (log2 of tokens)";
  param.short_name = "log2 page";
  param.kind = ValueKind::integer;
  param.description = "physical KV page of 2^value tokens (integer in [0, 12])";
  param.set = [](PointConfig& point, std::string_view text) {
    const int64_t exponent = parse_int64(text);
    if (exponent < 0 || exponent > 12)
      throw ParamValueError("must be in [0, 12], got " + std::string(text));
    point.page_size = 1 << exponent;
  };
  param.get = [](const PointConfig& point) {
    return std::to_string(std::bit_width(static_cast<unsigned>(point.page_size)) - 1);
  };
  return param;
}

TEST(AddedAxis, OneTableEntryReachesTheResultsAndTheFigures) {
  register_param(page_size_log2());
  const testing::ScratchDir dir;
  const std::string sweep_file =
      dir.write("added.yaml",
                "name: added_axis\nmodel: tiny\nworkload: needle\nphase: decode\nbackends: [cpu]\n"
                "fixed: {context_len: 128, decode_steps: 2, logical_page_size: 16, token_budget: 64}\n"
                "axes: {page_size_log2: [4, 5, 6]}\n"
                "timing: {warmup: 0, min_iters: 1, max_iters: 1}\n");
  const SweepConfig sweep = load_sweep(sweep_file, {}, testing::repo_configs_dir());
  RunnerOptions options;
  options.results_root = dir.path() + "/results";
  options.run_id = "r";
  options.source_dir = testing::source_dir();
  options.quiet = true;
  const std::string run_dir = run_sweep(sweep, options);

  std::ifstream jsonl(fs::path(run_dir) / "points.jsonl");
  int rows = 0;
  for (std::string line; std::getline(jsonl, line); ++rows) {
    const nlohmann::json row = nlohmann::json::parse(line);
    EXPECT_EQ(row["status"], "ok") << line;
    const int exponent = 4 + rows;
    EXPECT_EQ(row["page_size_log2"], exponent);
    EXPECT_EQ(row["axis.page_size_log2"], exponent);
    EXPECT_EQ(row["page_size"], 1 << exponent);  // read by the page size's own code
  }
  EXPECT_EQ(rows, 3);

  // The run's figures take the new axis, labelled from the table meta.json records.
  const std::string command = "cd " + testing::source_dir() + " && " + testing::source_dir() +
                              "/.venv/bin/python -m analysis.plot_run " + run_dir +
                              " > " + dir.path() + "/plot.log 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0)
      << "analysis.plot_run failed (make venv builds the project venv):\n"
      << std::ifstream(dir.path() + "/plot.log").rdbuf();
  EXPECT_TRUE(fs::exists(fs::path(run_dir) / "figures" / "accuracy_vs_page_size_log2.png"));
}

}  // namespace
}  // namespace unisparse
