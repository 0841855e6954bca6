// The Slurm scripts `unisparse slurm` writes, against golden files (tests/sweep/golden/), and the
// bookkeeping of a resubmission.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "framework/results/run_writer.h"
#include "framework/sweep/shard.h"
#include "framework/sweep/shard_slurm.h"
#include "tests/config/yaml_test_files.h"

namespace unisparse {
namespace {

using testing::expect_contains;
using testing::input_error_of;
using testing::ScratchDir;

const SlurmJobPaths kPaths{"/cluster/results/quick/r1", "/cluster/unisparse/build/bin/unisparse",
                           "/cluster/unisparse", "/cluster/unisparse/configs"};

std::string golden(const std::string& name) {
  const std::string path = testing::source_dir() + "/tests/sweep/golden/" + name;
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(SlurmScripts, ArrayOfAllShardsOneGpuEach) {
  SlurmJobOptions options;
  options.shards = 4;
  options.gpus_per_task = 1;
  options.cpus_per_task = 8;
  options.max_parallel = 2;
  options.partition = "gpu";
  options.time = "02:00:00";
  options.account = "sparse";
  EXPECT_EQ(array_job_script(kPaths, options, "unisparse-quick-r1", {0, 1, 2, 3}),
            golden("array_all_shards.sbatch"));
}

TEST(SlurmScripts, ResubmissionListsTheUnfinishedShardsAndCpuSweepsAskForNoGpu) {
  SlurmJobOptions options;
  options.shards = 4;
  EXPECT_EQ(array_job_script(kPaths, options, "unisparse-quick-r1", {1, 3}),
            golden("array_resubmission.sbatch"));
}

TEST(SlurmScripts, MergeJob) {
  SlurmJobOptions options;
  options.shards = 4;
  options.partition = "gpu";
  options.time = "02:00:00";
  EXPECT_EQ(merge_job_script(kPaths, options, "unisparse-quick-r1-merge"), golden("merge.sbatch"));
}

TEST(SlurmScripts, PathsTheShellWouldSplitAreQuoted) {
  SlurmJobPaths paths = kPaths;
  paths.source_dir = "/home/a b/it's";
  SlurmJobOptions options;
  options.shards = 2;
  expect_contains(array_job_script(paths, options, "j", {0, 1}), {"cd '/home/a b/it'\\''s'\n"});
}

TEST(SlurmScripts, ArrayIndices) {
  EXPECT_EQ(array_indices({0, 1, 2, 3}, 4, 0), "0-3");
  EXPECT_EQ(array_indices({0, 1, 2, 3}, 4, 2), "0-3%2");
  EXPECT_EQ(array_indices({1, 3}, 4, 0), "1,3");
  EXPECT_EQ(array_indices({2}, 4, 1), "2%1");
  EXPECT_EQ(array_indices({0}, 1, 0), "0");
}

TEST(SlurmScripts, SbatchValuesMustBeOneWord) {
  EXPECT_NO_THROW(check_sbatch_value("--time", "1-12:00:00"));
  EXPECT_NO_THROW(check_sbatch_value("--partition", ""));
  for (const char* value : {"gpu a100", "gpu\n#SBATCH --x", "a'b", "a#b"})
    expect_contains(input_error_of([&] { check_sbatch_value("--partition", value); }),
                    {"--partition", "one word"});
}

TEST(SlurmOptions, RoundTripThroughJsonAndNameABadKey) {
  SlurmJobOptions options;
  options.shards = 8;
  options.gpus_per_task = 1;
  options.max_parallel = 3;
  options.account = "a";
  EXPECT_EQ(slurm_options_from_json(to_json(options), "options.json"), options);
  nlohmann::json bad = to_json(options);
  bad["gpus_per_task"] = "one";
  expect_contains(input_error_of([&] { slurm_options_from_json(bad, "slurm/options.json"); }),
                  {"slurm/options.json", "gpus_per_task"});
  bad = to_json(options);
  bad.erase("partition");
  expect_contains(input_error_of([&] { slurm_options_from_json(bad, "o.json"); }), {"partition"});
  bad = to_json(options);
  bad["shards"] = 0;
  expect_contains(input_error_of([&] { slurm_options_from_json(bad, "o.json"); }), {"shards"});
}

TEST(UnfinishedShards, AreThoseLackingARowTheyOwe) {
  ScratchDir scratch;
  SweepConfig sweep;
  sweep.name = "test";
  sweep.source_path = "test.yaml";
  sweep.backends = {"cpu"};
  sweep.base.shape = {4, 2, 64};
  sweep.axes = {{"page_size", {"16", "32", "64", "128", "256"}}};
  const std::string run = scratch.path() + "/run";
  // Shard 0 of 3 owes points 0 and 3 and has both; shard 1 owes 1 and 4 and has 1; shard 2 never
  // started.
  scratch.write("run/shards/0-of-3/points.jsonl",
                "{\"point_key\":\"0|cpu\"}\n{\"point_key\":\"3|cpu\"}\n");
  scratch.write("run/shards/1-of-3/points.jsonl",
                "{\"point_key\":\"1|cpu\"}\n{\"point_key\":\"4|c");  // a killed task's last line
  EXPECT_EQ(unfinished_shards(run, sweep, 3), (std::vector<int>{1, 2}));
  scratch.write("run/shards/1-of-3/points.jsonl",
                "{\"point_key\":\"1|cpu\"}\n{\"point_key\":\"4|cpu\"}\n");
  EXPECT_EQ(unfinished_shards(run, sweep, 3), (std::vector<int>{2}));
}

}  // namespace
}  // namespace unisparse
