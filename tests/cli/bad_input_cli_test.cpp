// Bad input refused before anything is written: a model the generator cannot build, a trace that
// lacks the tensors a later point needs, paths that are not what their option says, a select
// option that the sweep parameter of the same name refuses, a run whose metric is not a number.
// Each exits 2 with the file or option and the key, and leaves no run directory.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/cli/cli_process.h"
#include "tests/common/tiny_trace.h"
#include "tests/config/yaml_test_files.h"

namespace unisparse {
namespace {

namespace fs = std::filesystem;
using testing::expect_contains;
using testing_support::CliResult;
using testing_support::run_cli;

const std::string kRepoConfigs = std::string(UNISPARSE_SOURCE_DIR) + "/configs";

constexpr const char* kTimingAndPlan =
    "fixed: {context_len: 64, decode_steps: 2, page_size: 16, logical_page_size: 16,\n"
    "        token_budget: 32}\n"
    "timing: {warmup: 0, min_iters: 1, max_iters: 1}\n";

CliResult run_sweep(const testing::ScratchDir& dir, const std::string& sweep,
                    const std::string& configs, const std::string& extra = "") {
  return run_cli("run " + sweep + " --configs " + configs + " --quiet --run-id r --results " +
                     dir.path() + "/results " + extra,
                 dir.path());
}

TEST(BadInputCli, ModelTheGeneratorCannotBuildWritesNothing) {
  const testing::ScratchDir dir;
  const fs::path configs = fs::path(dir.path()) / "configs";
  fs::copy(kRepoConfigs, configs, fs::copy_options::recursive);
  dir.write("configs/models/narrow.yaml",
            "name: narrow\nnum_q_heads: 2\nnum_kv_heads: 1\nhead_dim: 4\n");
  const std::string sweep = dir.write("narrow.yaml", std::string("name: narrow\nmodel: narrow\n"
                                                                 "workload: needle\nphase: decode\n"
                                                                 "backends: [cpu]\n") +
                                                         kTimingAndPlan);
  const CliResult result = run_sweep(dir, sweep, configs.string());
  EXPECT_EQ(result.exit_code, 2) << result.err;
  expect_contains(result.err, {"key 'model'", "head_dim must be at least 8"});
  EXPECT_FALSE(fs::exists(fs::path(dir.path()) / "results")) << "nothing is written";
}

// The first point uploads the prompt's K/V; the second runs the prefill over the prompt, which needs
// the prompt's queries.
TEST(BadInputCli, TraceWithoutPrefillQueriesForALaterPointThatPrefillsWritesNothing) {
  const testing::ScratchDir dir;
  testing::write_tiny_trace(dir.path() + "/decode_only.safetensors");  // no layers.0.q
  const std::string sweep =
      dir.write("phases.yaml",
                "name: phases\nmodel: tiny\n"
                "workload: {trace: decode_only.safetensors, layer: 0}\n"
                "phase: decode\nbackends: [cpu]\n"
                "fixed: {page_size: 16, logical_page_size: 16, token_budget: 32, block_size: 64}\n"
                "axes: {cache_fill: [upload, prefill]}\n"
                "timing: {warmup: 0, min_iters: 1, max_iters: 1}\n");
  const CliResult result = run_sweep(dir, sweep, kRepoConfigs);
  EXPECT_EQ(result.exit_code, 2) << result.err;
  expect_contains(result.err, {"decode_only.safetensors", "layers.0.q", "cache_fill prefill"});
  EXPECT_FALSE(fs::exists(fs::path(dir.path()) / "results")) << "nothing is written";
}

TEST(BadInputCli, ResultsPathThatIsAFileAndResumeOfNoRunExitTwo) {
  const testing::ScratchDir dir;
  const std::string sweep = dir.write("tiny.yaml", std::string("name: tiny_run\nmodel: tiny\n"
                                                               "workload: needle\nphase: decode\n"
                                                               "backends: [cpu]\n") +
                                                       kTimingAndPlan);
  const std::string file = dir.write("not_a_folder", "x");
  const std::string run = "run " + sweep + " --configs " + kRepoConfigs + " --quiet ";
  CliResult result = run_cli(run + "--results " + file, dir.path());
  EXPECT_EQ(result.exit_code, 2) << result.err;
  expect_contains(result.err, {"--results", "not_a_folder", "not a directory"});

  result = run_cli(run + "--resume " + dir.path() + "/no_such_run", dir.path());
  EXPECT_EQ(result.exit_code, 2) << result.err;
  expect_contains(result.err, {"--resume", "no_such_run"});
  EXPECT_FALSE(fs::exists(dir.path() + "/no_such_run"));

  fs::create_directories(dir.path() + "/empty_folder");  // a folder, but not a run
  result = run_cli(run + "--resume " + dir.path() + "/empty_folder", dir.path());
  EXPECT_EQ(result.exit_code, 2) << result.err;
  expect_contains(result.err, {"empty_folder", "is not a run directory"});
  EXPECT_TRUE(fs::is_empty(dir.path() + "/empty_folder"));

  for (const char* id : {"../x", "a/b"}) {
    result = run_cli(run + "--results " + dir.path() + "/results --run-id " + id, dir.path());
    EXPECT_EQ(result.exit_code, 2) << id << ": " << result.err;
    expect_contains(result.err, {"run id", id});
  }
  EXPECT_FALSE(fs::exists(dir.path() + "/results"));
  EXPECT_FALSE(fs::exists(dir.path() + "/x"));
}

TEST(BadInputCli, ListOfARootThatIsNoRepositoryExitsTwo) {
  const testing::ScratchDir dir;
  const CliResult result = run_cli("list --root " + dir.path() + "/nonexistent", dir.path());
  EXPECT_EQ(result.exit_code, 2) << result.err;
  expect_contains(result.err, {"--root", "nonexistent", "no sweeps/ folder"});
  EXPECT_EQ(result.out, "");
}

TEST(BadInputCli, SelectRefusesWhatTheSweepParametersRefuse) {
  const testing::ScratchDir dir;
  const std::string trace = testing::write_tiny_trace(dir.path() + "/t.safetensors");
  const std::string select = "select --trace " + trace + " --reuse-interval 1 ";
  CliResult result =
      run_cli(select + "--page-size 24 --logical-page-size 8 --token-budget 48", dir.path());
  EXPECT_EQ(result.exit_code, 2) << result.err;
  expect_contains(result.err, {"--page-size", "'24'", "power of two"});
  EXPECT_EQ(result.out, "");

  result = run_cli(select + "--page-size 16 --logical-page-size 16 --token-budget 32 "
                            "--gqa-selection widest",
                   dir.path());
  EXPECT_EQ(result.exit_code, 2) << result.err;
  expect_contains(result.err, {"--gqa-selection", "'widest'"});

  result = run_cli(select + "--page-size 16 --logical-page-size 16 --token-budget 32 --layer -1",
                   dir.path());
  EXPECT_EQ(result.exit_code, 2) << result.err;
  expect_contains(result.err, {"--layer", "-1"});
}

TEST(BadInputCli, CheckOfARunWhoseMetricIsNotANumberExitsTwoNamingFileAndPoint) {
  const testing::ScratchDir dir;
  const std::string sweep = dir.write("tiny.yaml", std::string("name: tiny_check\nmodel: tiny\n"
                                                               "workload: needle\nphase: decode\n"
                                                               "backends: [cpu]\n") +
                                                       kTimingAndPlan);
  ASSERT_EQ(run_sweep(dir, sweep, kRepoConfigs).exit_code, 0);
  const fs::path run_dir = fs::path(dir.path()) / "results" / "tiny_check" / "r";
  dir.write("baseline/tolerances.yaml", "attn_recall: {better: higher, abs: 1.0e-4}\n");
  fs::copy_file(run_dir / "points.jsonl", fs::path(dir.path()) / "baseline" / "points.jsonl");
  // The run's attn_recall becomes a string.
  std::string rows = testing_support::file_text(run_dir / "points.jsonl");
  const size_t at = rows.find("\"attn_recall\":");
  ASSERT_NE(at, std::string::npos);
  const size_t value_end = rows.find_first_of(",}", at);
  rows.replace(at, value_end - at, "\"attn_recall\":\"high\"");
  std::ofstream(run_dir / "points.jsonl", std::ios::trunc) << rows;

  const CliResult result =
      run_cli("check " + run_dir.string() + " --baseline " + dir.path() + "/baseline", dir.path());
  EXPECT_EQ(result.exit_code, 2) << result.err;
  expect_contains(result.err, {run_dir.string() + "/points.jsonl", "point 0|cpu", "attn_recall",
                               "\"high\"", "expected a number"});
}

}  // namespace
}  // namespace unisparse
