// `unisparse slurm` without a cluster: the scripts it writes, run by hand as a workstation would
// (bash with SLURM_ARRAY_TASK_ID set), the resubmission of unfinished shards, and bad options.
// tests/slurm/slurm_cluster_test.sh submits the same scripts to a real Slurm.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/cli/cli_process.h"

namespace fs = std::filesystem;
using unisparse::testing_support::CliResult;
using unisparse::testing_support::file_text;
using unisparse::testing_support::run_cli;

namespace {

constexpr const char* kSweep = R"(name: cli_slurm
model: tiny
workload: needle
phase: decode
backends: [cpu]
fixed: {context_len: 300, batch: 1, decode_steps: 5, streaming_fraction: 0.5, sink_tokens: 16,
        local_tokens: 32, mode: static+dynamic, logical_page_size: 8, token_budget: 128}
axes:
  page_size: [16, 32, 64]
  reuse_interval: [1, 4]
timing: {warmup: 0, min_iters: 1, max_iters: 2}
)";

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "lacks: " << part << "\nin: " << text;
}

int bash_exit_code(const std::string& command) {
  const int status = std::system(("bash -c '" + command + "' >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class SlurmCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("unisparse_slurm_cli_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "sweep.yaml") << kSweep;
    run_dir_ = (dir_ / "results" / "cli_slurm" / "r").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  CliResult slurm(const std::string& extra) {
    return run_cli("slurm " + (dir_ / "sweep.yaml").string() + " --configs " + configs() +
                       " --results " + (dir_ / "results").string() + " --run-id r " + extra,
                   dir_);
  }
  CliResult resubmit(const std::string& extra = "") {
    return run_cli("slurm --resume " + run_dir_ + " --configs " + configs() + " " + extra, dir_);
  }
  // Runs the array script as Slurm would run task `shard`.
  int run_task(const std::string& script, int shard) {
    return bash_exit_code("SLURM_ARRAY_TASK_ID=" + std::to_string(shard) + " bash " + script);
  }
  static std::string configs() { return std::string(UNISPARSE_SOURCE_DIR) + "/configs"; }
  fs::path dir_;
  std::string run_dir_;
};

TEST_F(SlurmCliTest, WritesAndPrintsTheScriptsThatRunAndMergeTheShards) {
  const CliResult result = slurm("--shards 3 --time 00:10:00");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string array = run_dir_ + "/slurm/1-array.sbatch";
  const std::string merge = run_dir_ + "/slurm/1-merge.sbatch";
  expect_contains(result.out, "# " + array + "\n#!/bin/bash\n");
  expect_contains(result.out, "#SBATCH --array=0-2\n");
  expect_contains(result.out, "#SBATCH --time=00:10:00\n");
  expect_contains(result.out, "--shard \"${SLURM_ARRAY_TASK_ID}/3\"");
  expect_contains(result.out, "sbatch --dependency=afterany:${array%%;*} '" + merge + "'");
  expect_contains(result.out, "run_dir: " + run_dir_ + "\n");
  EXPECT_EQ(result.out.find("--gpus-per-task"), std::string::npos);  // a cpu-only sweep
  expect_contains(result.out, file_text(array));
  expect_contains(file_text(merge), "merge " + run_dir_);
  const auto options = nlohmann::json::parse(file_text(run_dir_ + "/slurm/options.json"));
  EXPECT_EQ(options["shards"], 3);
  EXPECT_EQ(options["gpus_per_task"], 0);
  EXPECT_TRUE(fs::is_directory(run_dir_ + "/slurm/logs"));
  EXPECT_TRUE(fs::exists(run_dir_ + "/shards/config.yaml"));

  for (int shard = 0; shard < 3; ++shard) EXPECT_EQ(run_task(array, shard), 0) << shard;
  EXPECT_EQ(bash_exit_code("bash " + merge), 0);
  std::ifstream jsonl(run_dir_ + "/points.jsonl");
  int rows = 0;
  for (std::string line; std::getline(jsonl, line);) ++rows;
  EXPECT_EQ(rows, 6);
}

TEST_F(SlurmCliTest, AResubmissionListsOnlyTheUnfinishedShards) {
  ASSERT_EQ(slurm("--shards 3 --partition short --max-parallel 2").exit_code, 0);
  ASSERT_EQ(run_task(run_dir_ + "/slurm/1-array.sbatch", 1), 0);
  EXPECT_NE(bash_exit_code("bash " + run_dir_ + "/slurm/1-merge.sbatch"), 0);  // 0 and 2 missing
  EXPECT_FALSE(fs::exists(run_dir_ + "/points.jsonl"));

  const CliResult again = resubmit("--time 01:00:00");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const std::string array = file_text(run_dir_ + "/slurm/2-array.sbatch");
  expect_contains(array, "#SBATCH --array=0,2%2\n");      // as first asked: at most 2 at once
  expect_contains(array, "#SBATCH --partition=short\n");  // from the first submission
  expect_contains(array, "#SBATCH --time=01:00:00\n");    // given now
  for (int shard : {0, 2}) ASSERT_EQ(run_task(run_dir_ + "/slurm/2-array.sbatch", shard), 0);

  const CliResult done = resubmit();
  ASSERT_EQ(done.exit_code, 0) << done.err;
  expect_contains(done.out, "every shard holds all its points; only the merge job is submitted");
  EXPECT_FALSE(fs::exists(run_dir_ + "/slurm/3-array.sbatch"));
  ASSERT_TRUE(fs::exists(run_dir_ + "/slurm/3-merge.sbatch"));
  EXPECT_EQ(bash_exit_code("bash " + run_dir_ + "/slurm/3-merge.sbatch"), 0);
  EXPECT_TRUE(fs::exists(run_dir_ + "/points.jsonl"));

  const CliResult other_count = resubmit("--shards 4");
  EXPECT_EQ(other_count.exit_code, 2);
  expect_contains(other_count.err, "has 3 shards");
  EXPECT_EQ(resubmit("--set decode_steps=4").exit_code, 2);  // overrides need the sweep file
}

TEST_F(SlurmCliTest, ACudaSweepAsksForOneGpuPerTaskUnlessToldOtherwise) {
  ASSERT_EQ(slurm("--shards 2 --backend cuda").exit_code, 0);
  expect_contains(file_text(run_dir_ + "/slurm/1-array.sbatch"), "#SBATCH --gpus-per-task=1\n");
  fs::remove_all(dir_ / "results");
  ASSERT_EQ(slurm("--shards 2 --backend cuda --gpus-per-task 2 --cpus-per-task 4").exit_code, 0);
  const std::string array = file_text(run_dir_ + "/slurm/1-array.sbatch");
  expect_contains(array, "#SBATCH --gpus-per-task=2\n");
  expect_contains(array, "#SBATCH --cpus-per-task=4\n");
}

TEST_F(SlurmCliTest, BadOptionsExitTwoAndWriteNothing) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "--shards"},
      {"--shards 0", "--shards must be at least 1"},
      {"--shards x", "--shards expects an integer"},
      {"--shards 7", "the sweep has 6 points"},
      {"--shards 2 --max-parallel 0", "--max-parallel must be at least 1"},
      {"--shards 2 --gpus-per-task -1", "--gpus-per-task must be at least 0"},
      {"--shards 2 --partition 'a b'", "one word"},
      {"--shards 2 --set decode_stpes=3", "decode_stpes"},
  };
  for (const auto& [options, message] : cases) {
    const CliResult result = slurm(options);
    EXPECT_EQ(result.exit_code, 2) << options << ": " << result.err;
    expect_contains(result.err, message);
    EXPECT_FALSE(fs::exists(dir_ / "results")) << options;
  }
  ASSERT_EQ(slurm("--shards 2").exit_code, 0);
  const CliResult twice = slurm("--shards 2");
  EXPECT_EQ(twice.exit_code, 2);
  expect_contains(twice.err, "resubmit it with --resume " + run_dir_);
  const CliResult no_run = run_cli("slurm --resume " + (dir_ / "nothing").string(), dir_);
  EXPECT_EQ(no_run.exit_code, 2);
  expect_contains(no_run.err, "is not a run submitted with unisparse slurm");
}

}  // namespace
