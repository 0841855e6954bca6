// Sweep expansion: point order and count, axis values, and every skip rule.
#include "framework/sweep/expand.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "framework/config/params.h"
#include "tests/common/committed_sweeps.h"
#include "tests/config/yaml_test_files.h"

namespace unisparse {
namespace {

using testing::repo_configs_dir;
using testing::ScratchDir;

SweepConfig sweep_with_axes(std::vector<Axis> axes, std::vector<std::string> backends = {"cpu"}) {
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

TEST(ExpandTest, BackendsOutermostThenAxesInOrderLastFastest) {
  const SweepConfig sweep = sweep_with_axes(
      {{"page_size", {"16", "32", "64"}}, {"reuse_interval", {"1", "4"}}}, {"cuda", "cpu"});
  const std::vector<ExpandedPoint> points = expand(sweep);
  ASSERT_EQ(points.size(), 12u);
  for (size_t i = 0; i < points.size(); ++i) EXPECT_EQ(points[i].point_id, static_cast<int>(i));
  EXPECT_EQ(points[0].config.backend, "cuda");
  EXPECT_EQ(points[5].config.backend, "cuda");
  EXPECT_EQ(points[6].config.backend, "cpu");
  const int expected_page[] = {16, 16, 32, 32, 64, 64};
  const int expected_reuse[] = {1, 4, 1, 4, 1, 4};
  for (size_t i = 0; i < points.size(); ++i) {
    EXPECT_EQ(points[i].config.page_size, expected_page[i % 6]) << i;
    EXPECT_EQ(points[i].config.reuse_interval, expected_reuse[i % 6]) << i;
    ASSERT_EQ(points[i].axis_values.size(), 2u);
    EXPECT_EQ(points[i].axis_values[0].first, "page_size");
    EXPECT_EQ(points[i].axis_values[0].second, std::to_string(expected_page[i % 6]));
    EXPECT_EQ(points[i].axis_values[1].first, "reuse_interval");
    // Values not on an axis keep the base value.
    EXPECT_EQ(points[i].config.logical_page_size, 16);
  }
  EXPECT_EQ(points[3].skip_reason, "");
}

TEST(ExpandTest, NoAxesIsOnePointPerBackend) {
  const std::vector<ExpandedPoint> points = expand(sweep_with_axes({}, {"cuda", "cpu"}));
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[1].config.backend, "cpu");
  EXPECT_TRUE(points[1].axis_values.empty());
}

TEST(ExpandTest, InvalidCombinationsAreSkippedNotClamped) {
  const SweepConfig sweep = sweep_with_axes({{"page_size", {"16", "64"}},
                                             {"logical_page_size", {"16", "32"}},
                                             {"token_budget", {"32", "128"}}});
  const std::vector<ExpandedPoint> points = expand(sweep);
  ASSERT_EQ(points.size(), 8u);
  // (page, logical, budget) in order: 16/16/32, 16/16/128, 16/32/32, 16/32/128, 64/16/32, ...
  EXPECT_EQ(points[0].skip_reason, "");
  EXPECT_EQ(points[1].skip_reason, "");
  EXPECT_EQ(points[2].skip_reason, "logical_page_size 32 > page_size 16");
  EXPECT_EQ(points[3].skip_reason, "logical_page_size 32 > page_size 16");
  EXPECT_EQ(points[4].skip_reason, "token_budget 32 < page_size 64");
  EXPECT_EQ(points[5].skip_reason, "");
  EXPECT_EQ(points[6].skip_reason, "token_budget 32 < page_size 64");
  EXPECT_EQ(points[7].skip_reason, "");
  EXPECT_EQ(points[4].config.token_budget, 32);  // recorded as written
}

PointConfig valid_decode_point() {
  PointConfig point;
  point.phase = Phase::decode;
  point.mode = SparsityMode::static_dynamic;
  point.shape = {6, 3, 64};
  point.page_size = 32;
  point.logical_page_size = 8;
  point.token_budget = 96;
  point.reuse_interval = 3;
  point.decode_steps = 7;
  return point;
}

TEST(SkipReasonTest, ValidPointHasNone) { EXPECT_EQ(skip_reason(valid_decode_point()), ""); }

TEST(SkipReasonTest, EachRule) {
  PointConfig point = valid_decode_point();
  point.logical_page_size = 64;
  EXPECT_EQ(skip_reason(point), "logical_page_size 64 > page_size 32");

  point = valid_decode_point();
  point.page_size = 24;  // only programmatic points can hold a page size that is not a power of two
  point.logical_page_size = 16;
  EXPECT_EQ(skip_reason(point), "page_size 24 is not a multiple of logical_page_size 16");

  point = valid_decode_point();
  point.token_budget = 100;
  EXPECT_EQ(skip_reason(point), "token_budget 100 is not a multiple of page_size 32");

  point = valid_decode_point();
  point.token_budget = 16;
  EXPECT_EQ(skip_reason(point), "token_budget 16 < page_size 32");

  point = valid_decode_point();
  point.shape = {6, 4, 64};
  EXPECT_EQ(skip_reason(point), "num_q_heads 6 is not a multiple of num_kv_heads 4");

  point = valid_decode_point();
  point.decode_steps = 0;
  EXPECT_EQ(skip_reason(point), "decode_steps 0 < 1 in a decode point");

  point = valid_decode_point();
  point.reuse_interval = 0;
  EXPECT_EQ(skip_reason(point), "reuse_interval 0 < 1");

  point = valid_decode_point();
  point.timing.min_iters = 5;
  point.timing.max_iters = 4;
  EXPECT_EQ(skip_reason(point), "timing.max_iters 4 < timing.min_iters 5");
}

TEST(SkipReasonTest, ReferenceBatchesAboveBatchIsNotASkip) {
  PointConfig point = valid_decode_point();
  point.batch = 2;
  point.reference_batches = 5;
  EXPECT_EQ(skip_reason(point), "");
}

TEST(SkipReasonTest, SelectionRulesApplyOnlyToDecodeWithPageSelection) {
  PointConfig point = valid_decode_point();
  point.token_budget = 100;
  point.logical_page_size = 64;
  point.reuse_interval = 0;
  for (SparsityMode mode : {SparsityMode::dense, SparsityMode::static_only}) {
    point.mode = mode;
    EXPECT_EQ(skip_reason(point), "") << to_string(mode);
  }
  point.mode = SparsityMode::dynamic_only;
  EXPECT_NE(skip_reason(point), "");

  point.phase = Phase::prefill;
  point.decode_steps = 0;
  EXPECT_EQ(skip_reason(point), "");
  point.shape = {5, 2, 64};  // head counts matter in every phase
  EXPECT_NE(skip_reason(point), "");
}

TEST(ExpandTest, QuickSweepSkipsOnlyLogicalPagesLargerThanPhysical) {
  const SweepConfig sweep =
      load_sweep(testing::source_dir() + "/sweeps/quick.yaml", {}, repo_configs_dir());
  const std::vector<ExpandedPoint> points = expand(sweep);
  int valid = 0;
  for (const ExpandedPoint& point : points) {
    if (point.skip_reason.empty()) {
      ++valid;
      EXPECT_LE(point.config.logical_page_size, point.config.page_size);
    } else {
      EXPECT_GT(point.config.logical_page_size, point.config.page_size) << point.skip_reason;
    }
  }
  EXPECT_EQ(points.size(), 72u);
  EXPECT_EQ(valid, 54);
}

TEST(ExpandTest, EveryCommittedSweepExpands) {
  ScratchDir scratch;
  for (const auto& entry : std::filesystem::directory_iterator(testing::source_dir() + "/sweeps")) {
    if (entry.path().extension() != ".yaml") continue;
    const SweepConfig sweep = testing::load_committed_sweep(entry.path(), scratch);
    const std::vector<ExpandedPoint> points = expand(sweep);
    size_t expected = sweep.backends.size();
    for (const Axis& axis : sweep.axes) expected *= axis.values.size();
    EXPECT_EQ(points.size(), expected) << entry.path();
    EXPECT_TRUE(std::any_of(points.begin(), points.end(),
                            [](const ExpandedPoint& p) { return p.skip_reason.empty(); }))
        << entry.path() << " has no valid point";
  }
}

TEST(ExpandTest, AxisOverrideFromTheCommandLineExpands) {
  ScratchDir dir;
  const std::string path = dir.write("s.yaml",
                                     "name: s\nmodel: tiny\nworkload: needle\nphase: decode\n"
                                     "backends: [cpu]\nfixed: {page_size: 32, token_budget: 64}\n");
  const SweepConfig sweep =
      load_sweep(path, {{Override::axis, "workload.needle_depths=[[0.5], [0.125, 0.75]]"}},
                 repo_configs_dir());
  const std::vector<ExpandedPoint> points = expand(sweep);
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].config.workload.knobs.needle_depths, std::vector<double>{0.5});
  EXPECT_EQ(points[1].config.workload.knobs.needle_depths, (std::vector<double>{0.125, 0.75}));
  EXPECT_EQ(points[1].axis_values[0].second, "[0.125, 0.75]");
}

}  // namespace
}  // namespace unisparse
