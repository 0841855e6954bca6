// Shards: the --shard argument, the folder names, and the partition of a sweep's points.
#include "framework/sweep/shard.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "tests/config/yaml_test_files.h"

namespace unisparse {
namespace {

using testing::expect_contains;
using testing::input_error_of;
using testing::ScratchDir;

SweepConfig sweep_of(std::vector<Axis> axes, std::vector<std::string> backends) {
  SweepConfig sweep;
  sweep.name = "test";
  sweep.source_path = "test.yaml";
  sweep.backends = std::move(backends);
  sweep.base.shape = {4, 2, 64};
  sweep.base.page_size = 64;
  sweep.base.logical_page_size = 16;
  sweep.base.token_budget = 256;
  sweep.axes = std::move(axes);
  return sweep;
}

TEST(ParseShard, TakesIOfN) {
  EXPECT_EQ(parse_shard("0/1"), (Shard{0, 1}));
  EXPECT_EQ(parse_shard("3/4"), (Shard{3, 4}));
  EXPECT_EQ(parse_shard("12/100"), (Shard{12, 100}));
}

TEST(ParseShard, RejectsEverythingElseNamingTheText) {
  for (const char* text :
       {"",      "1",    "/4",   "1/",    "a/4", "1/b", "1/4x", " 1/4", "1 /4", "1//4",
        "1/4/2", "-1/4", "+1/4", "1.0/4", "1/0", "0/0", "4/4",  "5/4",  "1/-4", "99999999999/4"}) {
    const std::string message = input_error_of([&] { parse_shard(text); });
    expect_contains(message, {"--shard '" + std::string(text) + "'"});
  }
  expect_contains(input_error_of([] { parse_shard("4/4"); }), {"numbered 0 to 3"});
  expect_contains(input_error_of([] { parse_shard("1/0"); }), {"at least 1"});
}

TEST(ShardDirName, RoundTripsAndRejectsLookalikes) {
  EXPECT_EQ(shard_dir_name({2, 4}), "2-of-4");
  EXPECT_EQ(shard_label({2, 4}), "2/4");
  EXPECT_EQ(parse_shard_dir_name("2-of-4"), (Shard{2, 4}));
  for (const char* name :
       {"02-of-4", "4-of-4", "2-of-0", "2of4", "2-of-4-x", "x-of-4", "config.yaml"})
    EXPECT_FALSE(parse_shard_dir_name(name).has_value()) << name;
}

TEST(ShardDirs, FoundByIndexAndMixedCountsOrStrangersAreErrors) {
  ScratchDir scratch;
  const std::string run = scratch.path() + "/run";
  EXPECT_TRUE(find_shard_dirs(run).empty());  // no shards/ yet
  std::filesystem::create_directories(run + "/shards/1-of-3");
  std::filesystem::create_directories(run + "/shards/0-of-3");
  scratch.write("run/shards/config.yaml", "name: x\n");  // a file, not a shard
  const auto found = find_shard_dirs(run);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].first, (Shard{0, 3}));
  EXPECT_EQ(found[1].first, (Shard{1, 3}));
  std::filesystem::create_directories(run + "/shards/1-of-2");
  expect_contains(input_error_of([&] { find_shard_dirs(run); }),
                  {"N=2: 1-of-2", "N=3: 0-of-3, 1-of-3", "same N"});
  std::filesystem::remove(run + "/shards/1-of-2");
  std::filesystem::create_directories(run + "/shards/backup");
  expect_contains(input_error_of([&] { find_shard_dirs(run); }), {"not shards", "backup"});
}

TEST(ShardedRunDir, NeedsAPlainRunId) {
  EXPECT_EQ(sharded_run_dir("results", "quick", "r1"), "results/quick/r1");
  expect_contains(input_error_of([] { sharded_run_dir("results", "quick", ""); }), {"--run-id"});
  expect_contains(input_error_of([] { sharded_run_dir("results", "quick", "../x"); }), {"run id"});
}

// Every point runs in exactly one shard; a base point's backends share it, cpu first.
TEST(ExecutionOrder, ShardsPartitionThePointsKeepingBackendsOfAPointTogether) {
  const SweepConfig sweep = sweep_of(
      {{"page_size", {"16", "32", "64"}}, {"reuse_interval", {"1", "4", "16"}}}, {"cuda", "cpu"});
  const std::vector<ExpandedPoint> points = expand(sweep);
  ASSERT_EQ(points.size(), 18u);
  EXPECT_EQ(base_point_count(points, sweep.backends), 9);
  const std::vector<int> whole = execution_order(points, sweep.backends);
  ASSERT_EQ(whole.size(), 18u);
  EXPECT_EQ(points[whole[0]].config.backend, "cpu");  // cpu first within a base point
  EXPECT_EQ(whole[0], 9);
  EXPECT_EQ(whole[1], 0);

  for (int count : {1, 2, 4, 9}) {
    std::multiset<int> seen;
    std::vector<int> sizes;
    for (int index = 0; index < count; ++index) {
      const std::vector<int> part = execution_order(points, sweep.backends, Shard{index, count});
      sizes.push_back(static_cast<int>(part.size()));
      std::set<int> bases;
      for (int point : part) {
        seen.insert(point);
        bases.insert(point % 9);
        EXPECT_EQ(shard_of_point(point, 9, count), index);
      }
      for (int base : bases) {  // both backends of each base point of this shard are in it
        EXPECT_NE(std::find(part.begin(), part.end(), base), part.end());
        EXPECT_NE(std::find(part.begin(), part.end(), base + 9), part.end());
      }
      // The shard's points keep the whole run's relative order.
      std::vector<int> filtered;
      for (int point : whole)
        if (std::find(part.begin(), part.end(), point) != part.end()) filtered.push_back(point);
      EXPECT_EQ(filtered, part);
    }
    EXPECT_EQ(seen.size(), 18u) << count;
    EXPECT_EQ(std::set<int>(seen.begin(), seen.end()).size(), 18u) << count;
    // Round-robin: shard sizes differ by at most one base point (two rows here).
    const auto [smallest, largest] = std::minmax_element(sizes.begin(), sizes.end());
    EXPECT_LE(*largest - *smallest, 2) << count;
  }
}

// Round-robin deals every axis value to every shard, so a cost that grows along the first axis
// (context length, say) is spread evenly.
TEST(ExecutionOrder, EveryShardGetsEveryValueOfTheSlowestAxis) {
  const SweepConfig sweep = sweep_of(
      {{"context_len", {"1024", "4096", "16384"}}, {"page_size", {"16", "32", "64", "128"}}},
      {"cpu"});
  const std::vector<ExpandedPoint> points = expand(sweep);
  for (int index = 0; index < 4; ++index) {
    std::set<int> contexts;
    for (int point : execution_order(points, sweep.backends, Shard{index, 4}))
      contexts.insert(points[point].config.context_len);
    EXPECT_EQ(contexts.size(), 3u) << "shard " << index;
  }
}

TEST(PlannedPoints, NameEveryRowAndItsShard) {
  const SweepConfig sweep = sweep_of({{"page_size", {"16", "32", "64"}}}, {"cpu", "cuda"});
  const std::vector<PlannedPoint> planned = planned_points(sweep, 2);
  ASSERT_EQ(planned.size(), 6u);
  const std::vector<std::pair<std::string, int>> expected = {
      {"0|cpu", 0}, {"3|cuda", 0}, {"1|cpu", 1}, {"4|cuda", 1}, {"2|cpu", 0}, {"5|cuda", 0}};
  for (size_t i = 0; i < planned.size(); ++i) {
    EXPECT_EQ(planned[i].point_key, expected[i].first);
    EXPECT_EQ(planned[i].shard, expected[i].second);
  }
}

}  // namespace
}  // namespace unisparse
