// Sharded runs end to end through the binary: --shard, merge, resume of a shard or a run, the
// checks a resume makes, and two writers of one run at once.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "tests/cli/cli_process.h"

namespace fs = std::filesystem;
using unisparse::testing_support::file_text;
using unisparse::testing_support::run_cli;
using unisparse::testing_support::start_cli;
using unisparse::testing_support::wait_exit_code;

namespace {

// Six base points on the cpu backend, every one valid.
constexpr const char* kSweep = R"(name: cli_shard
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

std::vector<nlohmann::json> rows_of(const fs::path& jsonl) {
  std::vector<nlohmann::json> rows;
  std::istringstream lines(file_text(jsonl));
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "lacks: " << part << "\nin: " << text;
}

class ShardCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("unisparse_shard_cli_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    write("sweep.yaml", kSweep);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  std::string results() const { return (dir_ / "results").string(); }
  // "run <dir>/NAME --configs ... --quiet --results ..." followed by extra.
  std::string run_args(const std::string& extra, const std::string& sweep = "sweep.yaml") const {
    return "run " + (dir_ / sweep).string() + " --configs " + std::string(UNISPARSE_SOURCE_DIR) +
           "/configs --quiet --results " + results() + " " + extra;
  }
  unisparse::testing_support::CliResult cli(const std::string& arguments) {
    return run_cli(arguments, dir_);
  }
  std::string merge_args(const std::string& run_dir, const std::string& extra = "") const {
    return "merge " + run_dir + " --configs " + std::string(UNISPARSE_SOURCE_DIR) + "/configs " +
           extra;
  }
  fs::path dir_;
};

TEST_F(ShardCliTest, BadShardArgumentsExitTwoAndWriteNothing) {
  for (const char* shard : {"4/4", "x/4", "1/0", "1", "1/4/2", "", "-1/2", "1 /2"}) {
    const auto result = cli(run_args("--run-id s --shard '" + std::string(shard) + "'"));
    EXPECT_EQ(result.exit_code, 2) << shard << ": " << result.err;
    expect_contains(result.err, "--shard '" + std::string(shard) + "'");
    EXPECT_FALSE(fs::exists(results())) << shard;
  }
  const auto no_run_id = cli(run_args("--shard 0/2"));
  EXPECT_EQ(no_run_id.exit_code, 2);
  expect_contains(no_run_id.err, "--run-id");
  EXPECT_FALSE(fs::exists(results()));
}

TEST_F(ShardCliTest, MergedShardsEqualAnUnshardedRunPointForPoint) {
  ASSERT_EQ(cli(run_args("--run-id whole")).exit_code, 0);
  for (int shard = 0; shard < 3; ++shard) {
    const auto result = cli(run_args("--run-id split --shard " + std::to_string(shard) + "/3"));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    expect_contains(result.out, "shards/" + std::to_string(shard) + "-of-3");
  }
  const std::string run_dir = results() + "/cli_shard/split";
  const auto merged = cli(merge_args(run_dir));
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  expect_contains(merged.out, "merged 6 rows of 3 shards");

  const auto whole = rows_of(results() + "/cli_shard/whole/points.jsonl");
  const auto split = rows_of(run_dir + "/points.jsonl");
  ASSERT_EQ(whole.size(), 6u);
  ASSERT_EQ(split.size(), whole.size());
  for (size_t i = 0; i < whole.size(); ++i) {
    EXPECT_EQ(split[i]["point_key"], whole[i]["point_key"]);
    EXPECT_EQ(split[i]["status"], "ok");
    EXPECT_EQ(split[i]["status"], whole[i]["status"]);
    for (const char* metric :
         {"attn_recall", "page_recall", "needle_hit", "out_rel_l2_mean", "out_rel_l2_max"})
      EXPECT_EQ(split[i][metric], whole[i][metric]) << whole[i]["point_key"] << " " << metric;
    EXPECT_EQ(split[i]["shard"], std::to_string(i % 3) + "/3");  // round-robin over base points
  }
  EXPECT_EQ(file_text(run_dir + "/config.yaml"),
            file_text(results() + "/cli_shard/whole/config.yaml"));
  const auto meta = nlohmann::json::parse(file_text(run_dir + "/meta.json"));
  ASSERT_EQ(meta["shards"].size(), 3u);
  EXPECT_EQ(meta["shards"][2]["argv"][3], "--configs");
  EXPECT_EQ(meta["shards"][2]["shard"], "2/3");
  EXPECT_EQ(meta["num_points"], 6);
  EXPECT_TRUE(fs::exists(run_dir + "/points.csv"));

  // The merged run is a run: check it against the unsharded one.
  write("results/cli_shard/whole/tolerances.yaml",
        "attn_recall: {better: higher, abs: 0}\nout_rel_l2_mean: {better: lower, abs: 0}\n");
  const auto check = cli("check " + run_dir + " --baseline " + results() + "/cli_shard/whole");
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  expect_contains(check.out, "check: 6 points compared, 0 regressions");
}

TEST_F(ShardCliTest, TheShardsPlanFilesAreWhereTheMergedRowsSayTheyAre) {
  for (int shard = 0; shard < 2; ++shard)
    ASSERT_EQ(cli(run_args("--run-id s --dump-plans --shard " + std::to_string(shard) + "/2"))
                  .exit_code,
              0);
  const std::string run_dir = results() + "/cli_shard/s";
  ASSERT_EQ(cli(merge_args(run_dir)).exit_code, 0);
  const auto rows = rows_of(run_dir + "/points.jsonl");
  ASSERT_EQ(rows.size(), 6u);
  for (const auto& row : rows) {
    const fs::path plan = fs::path(run_dir) / row["plan_file"].get<std::string>();
    EXPECT_TRUE(fs::is_regular_file(plan)) << plan;
    EXPECT_EQ(plan.parent_path(), fs::path(run_dir) / "plans");
  }
}

TEST_F(ShardCliTest, AnIncompleteRunMergesOnlyWithPartialNamingWhatIsMissing) {
  ASSERT_EQ(cli(run_args("--run-id s --shard 0/3")).exit_code, 0);
  ASSERT_EQ(cli(run_args("--run-id s --shard 2/3")).exit_code, 0);
  const std::string run_dir = results() + "/cli_shard/s";
  const auto refused = cli(merge_args(run_dir));
  EXPECT_EQ(refused.exit_code, 2);
  expect_contains(refused.err, "shard 1/3 (not started) lacks 2 of its 2 rows: 1|cpu, 4|cpu");
  expect_contains(refused.err, "--partial");
  EXPECT_FALSE(fs::exists(run_dir + "/points.jsonl"));
  EXPECT_FALSE(fs::exists(run_dir + "/meta.json"));

  const auto partial = cli(merge_args(run_dir, "--partial"));
  ASSERT_EQ(partial.exit_code, 0) << partial.err;
  expect_contains(partial.out, "partial: 2 rows missing: 1|cpu, 4|cpu");
  EXPECT_EQ(rows_of(run_dir + "/points.jsonl").size(), 4u);
  const auto meta = nlohmann::json::parse(file_text(run_dir + "/meta.json"));
  EXPECT_EQ(meta["merge"]["partial"], true);
  EXPECT_EQ(meta["merge"]["missing"], nlohmann::json({"1|cpu", "4|cpu"}));
}

TEST_F(ShardCliTest, MergeNamesAShardThatRanAnotherConfig) {
  for (int shard = 0; shard < 2; ++shard)
    ASSERT_EQ(cli(run_args("--run-id s --shard " + std::to_string(shard) + "/2")).exit_code, 0);
  const std::string run_dir = results() + "/cli_shard/s";
  std::string config = file_text(run_dir + "/shards/1-of-2/config.yaml");
  config.replace(config.find("decode_steps: 5"), 15, "decode_steps: 7");
  std::ofstream(run_dir + "/shards/1-of-2/config.yaml") << config;
  const auto refused = cli(merge_args(run_dir));
  EXPECT_EQ(refused.exit_code, 2);
  expect_contains(refused.err, "shard 1/2 (" + run_dir + "/shards/1-of-2) ran another config");
  expect_contains(refused.err, "fixed.decode_steps: 5 in the run, 7 in shard 1/2");
  EXPECT_FALSE(fs::exists(run_dir + "/points.jsonl"));
}

TEST_F(ShardCliTest, TheShardsOfARunMustAgreeOnConfigAndCount) {
  ASSERT_EQ(cli(run_args("--run-id s --shard 0/2")).exit_code, 0);
  const std::string run_dir = results() + "/cli_shard/s";

  const auto other_config = cli(run_args("--run-id s --shard 1/2 --set decode_steps=4"));
  EXPECT_EQ(other_config.exit_code, 2);
  expect_contains(other_config.err, "fixed.decode_steps: 5 in the run, 4 in this shard");
  const auto other_count = cli(run_args("--run-id s --shard 1/3"));
  EXPECT_EQ(other_count.exit_code, 2);
  expect_contains(other_count.err, "split into 2 shards (0-of-2)");
  const auto again = cli(run_args("--run-id s --shard 0/2"));
  EXPECT_EQ(again.exit_code, 2);
  expect_contains(again.err, "resume it with --resume " + run_dir + " --shard 0/2");
  EXPECT_FALSE(fs::exists(run_dir + "/shards/1-of-2"));
  EXPECT_FALSE(fs::exists(run_dir + "/shards/1-of-3"));

  const auto shard_dir_given = cli(run_args("--resume " + run_dir + "/shards/0-of-2 --shard 0/2"));
  EXPECT_EQ(shard_dir_given.exit_code, 2);
  expect_contains(shard_dir_given.err, "the one above shards/");
}

TEST_F(ShardCliTest, AKilledShardResumesAndAShardNeverStartedStartsOnResume) {
  ASSERT_EQ(cli(run_args("--run-id s --shard 0/2")).exit_code, 0);
  const std::string run_dir = results() + "/cli_shard/s";
  const fs::path points = run_dir + "/shards/0-of-2/points.jsonl";
  // As if killed while writing its second row.
  const std::string text = file_text(points);
  const size_t first_line = text.find('\n') + 1;
  std::ofstream(points, std::ios::trunc)
      << text.substr(0, first_line) << text.substr(first_line, 40);

  const auto resumed = cli(run_args("--resume " + run_dir + " --shard 0/2"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const auto rows = rows_of(points);
  std::set<std::string> keys;
  for (const auto& row : rows) keys.insert(row["point_key"].get<std::string>());
  EXPECT_EQ(rows.size(), 3u);
  EXPECT_EQ(keys, (std::set<std::string>{"0|cpu", "2|cpu", "4|cpu"}));
  const auto meta = nlohmann::json::parse(file_text(run_dir + "/shards/0-of-2/meta.json"));
  ASSERT_EQ(meta["resumes"].size(), 1u);
  EXPECT_EQ(meta["resumes"][0]["points_kept"], 1);
  EXPECT_EQ(meta["resumes"][0]["dropped_partial_line"], true);
  EXPECT_EQ(meta["shard"]["label"], "0/2");

  const auto started = cli(run_args("--resume " + run_dir + " --shard 1/2"));
  ASSERT_EQ(started.exit_code, 0) << started.err;
  EXPECT_EQ(rows_of(run_dir + "/shards/1-of-2/points.jsonl").size(), 3u);
  EXPECT_EQ(cli(merge_args(run_dir)).exit_code, 0);
}

// A resume must bring the run's resolved config: each way it can differ is refused with the keys
// named, and the run is left as it was.
class ResumeCheckTest : public ShardCliTest {
 protected:
  void SetUp() override {
    ShardCliTest::SetUp();
    ASSERT_EQ(cli(run_args("--run-id r")).exit_code, 0);
    run_dir_ = results() + "/cli_shard/r";
    before_ = file_text(run_dir_ + "/points.jsonl") + file_text(run_dir_ + "/meta.json");
  }
  void expect_refused(const std::string& arguments, const std::string& difference) {
    const auto result = cli(arguments);
    EXPECT_EQ(result.exit_code, 2) << result.err;
    expect_contains(result.err, run_dir_ + "/config.yaml");
    expect_contains(result.err, difference);
    EXPECT_EQ(file_text(run_dir_ + "/points.jsonl") + file_text(run_dir_ + "/meta.json"), before_);
  }
  std::string run_dir_, before_;
};

TEST_F(ResumeCheckTest, AnotherSweepFileIsRefused) {
  std::string other = kSweep;
  other.replace(other.find("[16, 32, 64]"), 12, "[16, 32]");
  write("other.yaml", other);
  expect_refused(run_args("--resume " + run_dir_, "other.yaml"),
                 "axes.page_size: [16, 32, 64] in the run, [16, 32] in this resume");
}

TEST_F(ResumeCheckTest, OtherOverridesAreRefused) {
  expect_refused(run_args("--resume " + run_dir_ + " --set decode_steps=4 -a 'reuse_interval=[1]'"),
                 "fixed.decode_steps: 5 in the run, 4 in this resume; axes.reuse_interval: [1, 4] "
                 "in the run, [1] in this resume");
}

TEST_F(ResumeCheckTest, AnotherBackendListIsRefused) {
  expect_refused(run_args("--resume " + run_dir_ + " --backend cuda"),
                 "backends: [cpu] in the run, [cuda] in this resume");
}

TEST_F(ResumeCheckTest, TheSameSweepAndOverridesResume) {
  const auto result = cli(run_args("--resume " + run_dir_));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(rows_of(run_dir_ + "/points.jsonl").size(), 6u);
}

// A sweep slow enough (seconds on two cores) to have a writer running while a second one starts.
constexpr const char* kSlowSweep = R"(name: cli_slow
model: tiny
workload: needle
phase: decode
backends: [cpu]
fixed: {context_len: 16384, batch: 1, decode_steps: 32, mode: dense}
axes:
  seed: [1, 2, 3, 4, 5, 6]
timing: {warmup: 0, min_iters: 1, max_iters: 1}
)";

// Waits until path holds at least `lines` newline-terminated lines.
bool wait_for_lines(const fs::path& path, size_t lines) {
  for (int attempt = 0; attempt < 6000; ++attempt) {
    const std::string text = file_text(path);
    if (static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) >= lines) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST_F(ShardCliTest, OfTwoResumesOfOneRunAtOnceOneIsRefused) {
  write("slow.yaml", kSlowSweep);
  const std::string run_dir = results() + "/cli_slow/r";
  const std::string configs = std::string(UNISPARSE_SOURCE_DIR) + "/configs";
  auto args = [&](std::vector<std::string> extra) {
    std::vector<std::string> words{
        "run",    (dir_ / "slow.yaml").string(), "--configs", configs, "--quiet", "--results",
        results()};
    words.insert(words.end(), extra.begin(), extra.end());
    return words;
  };
  // A first run killed after its first point (kill -9: no cleanup) leaves a run to resume.
  const pid_t killed = start_cli(args({"--run-id", "r"}), dir_ / "killed.log");
  ASSERT_TRUE(wait_for_lines(run_dir + "/points.jsonl", 1)) << file_text(dir_ / "killed.log");
  kill(killed, SIGKILL);
  wait_exit_code(killed);

  const pid_t first = start_cli(args({"--resume", run_dir}), dir_ / "first.log");
  // The first resume holds the lock once its pid is in the lock file.
  const std::string holder = "\"pid\":" + std::to_string(first);
  bool locked = false;
  for (int attempt = 0; attempt < 6000 && !locked; ++attempt) {
    locked = file_text(run_dir + "/.lock").find(holder) != std::string::npos;
    if (!locked) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(locked) << file_text(dir_ / "first.log");
  const auto second = cli(run_args("--resume " + run_dir, "slow.yaml"));
  EXPECT_EQ(second.exit_code, 2) << second.err;
  expect_contains(second.err, run_dir + " is being written by pid " + std::to_string(first));
  ASSERT_EQ(wait_exit_code(first), 0) << file_text(dir_ / "first.log");

  const auto rows = rows_of(run_dir + "/points.jsonl");
  std::set<std::string> keys;
  for (const auto& row : rows) keys.insert(row["point_key"].get<std::string>());
  EXPECT_EQ(rows.size(), 6u);
  EXPECT_EQ(keys.size(), 6u);
  const auto meta = nlohmann::json::parse(file_text(run_dir + "/meta.json"));
  EXPECT_EQ(meta["resumes"].size(), 1u);  // the refused resume left no record
  EXPECT_FALSE(fs::exists(run_dir + "/.lock"));
}

TEST_F(ShardCliTest, MergeAndSlurmHaveHelp) {
  for (const char* command : {"merge", "slurm"}) {
    const auto result = cli(std::string(command) + " --help");
    EXPECT_EQ(result.exit_code, 0) << command;
    expect_contains(result.out, "usage: unisparse " + std::string(command));
  }
}

}  // namespace
