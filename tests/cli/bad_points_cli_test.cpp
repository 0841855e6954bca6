// `run --resume` on a points.jsonl that is not one JSON object per line is bad input: exit 2 with
// the file and line, and the run directory is left as it was.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/cli/cli_process.h"
#include "tests/config/yaml_test_files.h"

namespace unisparse {
namespace {

namespace fs = std::filesystem;
using testing::expect_contains;
using testing_support::CliResult;
using testing_support::file_text;
using testing_support::run_cli;

TEST(BadPointsCli, ResumeOfACorruptPointsFileExitsTwoNamingFileAndLine) {
  const testing::ScratchDir dir;
  const std::string sweep = dir.write("tiny.yaml",
                                      "name: corrupt\n"
                                      "model: tiny\n"
                                      "workload: needle\n"
                                      "phase: decode\n"
                                      "backends: [cpu]\n"
                                      "fixed: {context_len: 64, decode_steps: 2, page_size: 16,\n"
                                      "        logical_page_size: 16, token_budget: 32}\n"
                                      "axes: {reuse_interval: [1, 2]}\n"
                                      "timing: {warmup: 0, min_iters: 1, max_iters: 1}\n");
  const std::string run =
      "run " + sweep + " --configs " + std::string(UNISPARSE_SOURCE_DIR) + "/configs --quiet";
  const CliResult first =
      run_cli(run + " --run-id r --results " + dir.path() + "/results", dir.path());
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const fs::path run_dir = fs::path(dir.path()) / "results" / "corrupt" / "r";
  const fs::path points = run_dir / "points.jsonl";
  // The first of the two complete lines is cut in half: not a partial tail, a corrupt file.
  const std::string rows = file_text(points);
  const std::string corrupt =
      rows.substr(0, rows.find('\n') / 2) + "\n" + rows.substr(rows.find('\n') + 1);
  std::ofstream(points, std::ios::trunc) << corrupt;

  const CliResult resumed = run_cli(run + " --resume " + run_dir.string(), dir.path());
  EXPECT_EQ(resumed.exit_code, 2) << resumed.err;
  expect_contains(resumed.err, {points.string() + ":1: not a JSON object"});
  EXPECT_EQ(file_text(points), corrupt);
}

}  // namespace
}  // namespace unisparse
