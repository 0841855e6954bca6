// Merging shards: every row once, one config, provenance per shard; every failure named.
#include "framework/results/merge.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "framework/core/error.h"
#include "framework/results/file_io.h"
#include "framework/results/points_file.h"
#include "tests/results/csv_reader.h"
#include "tests/results/scratch_dir.h"

namespace unisparse {
namespace {

namespace fs = std::filesystem;
using testing_support::parse_csv;
using testing_support::ScratchDir;

const char* kConfig =
    "name: odd_sizes\nbackends: [cpu]\nfixed:\n  context_len: 4096\naxes:\n  page_size: [7, 63, "
    "64]\n";
const std::vector<std::string> kLabels = {"0/2", "1/2"};

// Rows 0..3, round-robin: shard 0 owes 0 and 2, shard 1 owes 1 and 3.
const std::vector<ExpectedRow> kExpected = {
    {"0|cpu", "0/2"}, {"1|cpu", "1/2"}, {"2|cpu", "0/2"}, {"3|cpu", "1/2"}};

Row row_for(const std::string& key, const std::string& shard, double recall) {
  Row row;
  row["point_key"] = key;
  row["status"] = "ok";
  row["attn_recall"] = recall;
  row["shard"] = shard;
  return row;
}

ShardRun shard_with(const std::string& label, std::vector<std::string> keys,
                    const std::string& host = "node1") {
  ShardRun shard;
  shard.label = label;
  shard.dir = "/runs/r1/shards/" + label.substr(0, 1) + "-of-2";
  shard.config_yaml = kConfig;
  shard.meta = {{"sweep", "odd_sizes"},
                {"run_id", "r1"},
                {"host", {{"name", host}}},
                {"git", {{"sha", "abc"}, {"dirty", false}}},
                {"start_time_utc", "2026-12-01T10:0" + label.substr(0, 1) + ":00Z"},
                {"end_time_utc", "2026-12-01T11:0" + label.substr(0, 1) + ":00Z"},
                {"argv", {"unisparse", "run", "--shard", label}},
                {"shard", {{"index", label[0] - '0'}, {"count", 2}}},
                {"slurm", {{"SLURM_JOB_ID", "10" + label.substr(0, 1)}}}};
  for (const std::string& key : keys) shard.rows.push_back(row_for(key, label, 0.5));
  return shard;
}

std::string merge_error(const std::vector<ShardRun>& shards, bool partial = false) {
  try {
    merge_shard_runs("/runs/r1", kConfig, kLabels, kExpected, shards, partial, {"unisparse"});
  } catch (const InputError& error) {
    return error.what();
  }
  ADD_FAILURE() << "the merge was not refused";
  return {};
}

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "lacks: " << part << "\nin: " << text;
}

TEST(Merge, RowsComeInTheExpectedOrderWithEachShardsProvenance) {
  const MergedRun merged = merge_shard_runs(
      "/runs/r1", kConfig, kLabels, kExpected,
      {shard_with("0/2", {"2|cpu", "0|cpu"}), shard_with("1/2", {"1|cpu", "3|cpu"}, "node2")},
      false, {"unisparse", "merge", "/runs/r1"});
  ASSERT_EQ(merged.rows.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(merged.rows[i]["point_key"], kExpected[i].point_key);
  EXPECT_EQ(merged.rows[1]["shard"], "1/2");
  EXPECT_TRUE(merged.missing.empty());
  EXPECT_EQ(merged.config_yaml, kConfig);

  const nlohmann::json& meta = merged.meta;
  EXPECT_EQ(meta["run_id"], "r1");
  EXPECT_EQ(meta["num_points"], 4);
  EXPECT_EQ(meta["start_time_utc"], "2026-12-01T10:00:00Z");
  EXPECT_EQ(meta["end_time_utc"], "2026-12-01T11:01:00Z");
  EXPECT_EQ(meta["git"]["sha"], "abc");  // the same in every shard
  EXPECT_FALSE(meta.contains("host"));   // it differs: only per shard
  EXPECT_EQ(meta["differs_across_shards"], nlohmann::json({"host"}));
  EXPECT_FALSE(meta.contains("shard"));
  EXPECT_FALSE(meta.contains("slurm"));
  ASSERT_EQ(meta["shards"].size(), 2u);
  EXPECT_EQ(meta["shards"][1]["shard"], "1/2");
  EXPECT_EQ(meta["shards"][1]["host"]["name"], "node2");
  EXPECT_EQ(meta["shards"][1]["slurm"]["SLURM_JOB_ID"], "101");
  EXPECT_EQ(meta["shards"][1]["argv"][3], "1/2");
  EXPECT_EQ(meta["shards"][1]["dir"], "shards/1-of-2");
  EXPECT_EQ(meta["shards"][1]["rows"], 2);
  EXPECT_EQ(meta["merge"]["partial"], false);
  EXPECT_EQ(meta["merge"]["argv"][1], "merge");
}

TEST(Merge, MissingRowsAreListedByShardAndNothingIsMerged) {
  const std::string message = merge_error({shard_with("0/2", {"0|cpu"})});
  expect_contains(message, "/runs/r1: cannot merge");
  expect_contains(message, "shard 0/2 lacks 1 of its 2 rows: 2|cpu");
  expect_contains(message, "shard 1/2 (not started) lacks 2 of its 2 rows: 1|cpu, 3|cpu");
  expect_contains(message, "--partial");
}

TEST(Merge, APartialMergeKeepsWhatIsThereAndRecordsWhatIsMissing) {
  const MergedRun merged =
      merge_shard_runs("/runs/r1", kConfig, kLabels, kExpected, {shard_with("1/2", {"3|cpu"})},
                       true, {"unisparse", "merge", "--partial"});
  ASSERT_EQ(merged.rows.size(), 1u);
  EXPECT_EQ(merged.rows[0]["point_key"], "3|cpu");
  EXPECT_EQ(merged.missing, (std::vector<std::string>{"0|cpu", "1|cpu", "2|cpu"}));
  EXPECT_EQ(merged.meta["merge"]["partial"], true);
  EXPECT_EQ(merged.meta["merge"]["missing"].size(), 3u);
  EXPECT_EQ(merged.meta["num_points"], 1);
}

TEST(Merge, ARowTwiceIsAnErrorEvenInAPartialMerge) {
  ShardRun first = shard_with("0/2", {"0|cpu", "2|cpu", "2|cpu"});
  const std::string twice = merge_error({first, shard_with("1/2", {"1|cpu", "3|cpu"})}, true);
  expect_contains(twice, "row 2|cpu is there 2 times (shards 0/2, 0/2)");

  // A row that the wrong shard holds too: both problems are named.
  const std::string both = merge_error(
      {shard_with("0/2", {"0|cpu", "2|cpu"}), shard_with("1/2", {"1|cpu", "3|cpu", "0|cpu"})});
  expect_contains(both, "shard 1/2 holds row 0|cpu, which shard 0/2 owes");
  expect_contains(both, "row 0|cpu is there 2 times (shards 0/2, 1/2)");
}

TEST(Merge, ARowOfNoPointOfTheSweepIsAnError) {
  const std::string message = merge_error(
      {shard_with("0/2", {"0|cpu", "2|cpu", "9|cuda"}), shard_with("1/2", {"1|cpu", "3|cpu"})});
  expect_contains(message, "shard 0/2 holds row 9|cuda, which is no point of this sweep");
}

TEST(Merge, AShardThatRanAnotherConfigIsNamedWithTheDifferingKeys) {
  ShardRun other = shard_with("1/2", {"1|cpu", "3|cpu"});
  other.config_yaml =
      "name: odd_sizes\nbackends: [cpu]\nfixed:\n  context_len: 8192\naxes:\n  page_size: [7, 63, "
      "64]\n";
  const std::string message = merge_error({shard_with("0/2", {"0|cpu", "2|cpu"}), other});
  expect_contains(message, "shard 1/2 (/runs/r1/shards/1-of-2) ran another config");
  expect_contains(message, "fixed.context_len: 4096 in the run, 8192 in shard 1/2");
}

TEST(Merge, WritesTheFourFilesOfARun) {
  ScratchDir scratch;
  fs::create_directories(scratch.path());
  const MergedRun merged = merge_shard_runs(
      scratch.path().string(), kConfig, kLabels, kExpected,
      {shard_with("0/2", {"0|cpu", "2|cpu"}), shard_with("1/2", {"1|cpu", "3|cpu"})}, false, {});
  write_merged_run(scratch.path().string(), merged);
  EXPECT_EQ(read_text_file((scratch.path() / "config.yaml").string()), kConfig);
  const PointsFile points = read_points_jsonl((scratch.path() / "points.jsonl").string());
  ASSERT_EQ(points.rows.size(), 4u);
  EXPECT_EQ(points.rows[3]["point_key"], "3|cpu");
  const auto csv = parse_csv(read_text_file((scratch.path() / "points.csv").string()));
  ASSERT_EQ(csv.size(), 5u);
  EXPECT_EQ(csv[0][0], "sweep");
  const auto meta = nlohmann::json::parse(read_text_file((scratch.path() / "meta.json").string()));
  EXPECT_EQ(meta["num_points"], 4);
}

// Rows name their plan files relative to their run directory: the merged run holds them at the
// same relative paths, and a row whose file is gone is named.
TEST(Merge, PlanFilesOfTheRowsComeAlongAndAMissingOneIsNamed) {
  ScratchDir scratch;
  const fs::path run = scratch.path() / "r1";
  std::vector<ShardRun> shards = {shard_with("0/2", {"0|cpu", "2|cpu"}),
                                  shard_with("1/2", {"1|cpu", "3|cpu"})};
  for (ShardRun& shard : shards) {
    shard.dir = (run / "shards" / (shard.label.substr(0, 1) + "-of-2")).string();
    for (Row& row : shard.rows) {
      const std::string name = "plans/" + row["point_key"].get<std::string>().substr(0, 1) +
                               "_cpu_decode_plan.safetensors";
      row["plan_file"] = name;
      fs::create_directories(fs::path(shard.dir) / "plans");
      std::ofstream(fs::path(shard.dir) / name) << "plan of " << row["point_key"];
    }
  }
  const MergedRun merged =
      merge_shard_runs(run.string(), kConfig, kLabels, kExpected, shards, false, {});
  ASSERT_EQ(merged.files.size(), 4u);
  write_merged_run(run.string(), merged);
  for (const Row& row : merged.rows)
    EXPECT_EQ(read_text_file((run / row["plan_file"].get<std::string>()).string()),
              "plan of " + row["point_key"].dump());

  fs::remove(fs::path(shards[1].dir) / "plans/3_cpu_decode_plan.safetensors");
  try {
    merge_shard_runs(run.string(), kConfig, kLabels, kExpected, shards, false, {});
    ADD_FAILURE() << "no error";
  } catch (const InputError& error) {
    expect_contains(error.what(), "shard 1/2: row 3|cpu names");
    expect_contains(error.what(), "3_cpu_decode_plan.safetensors, which is not there");
  }
}

TEST(Merge, ReadShardRunNamesAFileThatIsNotThere) {
  ScratchDir scratch;
  fs::create_directories(scratch.path());
  try {
    read_shard_run("0/2", scratch.path().string());
    ADD_FAILURE() << "no error";
  } catch (const InputError& error) {
    expect_contains(error.what(), (scratch.path() / "config.yaml").string());
  }
}

}  // namespace
}  // namespace unisparse
