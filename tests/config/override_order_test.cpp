// Overrides must leave every value they do not name untouched (YAML nodes have reference semantics,
// so replacing entries carelessly rewrites other values of the parsed file).
#include <gtest/gtest.h>

#include "framework/config/sweep_config.h"
#include "tests/config/yaml_test_files.h"

namespace unisparse {
namespace {

constexpr const char* kSweep = R"(name: overrides
model: tiny
workload: needle
phase: decode
backends: [cpu]
fixed:
  mode: static+dynamic
  context_len: 4096
  batch: 3
  dtype: bf16
  decode_steps: 16
  reuse_interval: 2
axes:
  page_size: [16, 32, 64]
  logical_page_size: [8, 16]
  token_budget: [256, 1024]
)";

TEST(OverrideOrder, SetKeepsTheOtherFixedValues) {
  testing::ScratchDir dir;
  const std::string path = dir.write("overrides.yaml", kSweep);
  const SweepConfig sweep =
      load_sweep(path, {{Override::fixed, "mode=dynamic"}}, testing::repo_configs_dir());
  EXPECT_EQ(sweep.base.mode, SparsityMode::dynamic_only);
  EXPECT_EQ(sweep.base.context_len, 4096);
  EXPECT_EQ(sweep.base.batch, 3);
  EXPECT_EQ(sweep.base.dtype, DType::bf16);
  EXPECT_EQ(sweep.base.decode_steps, 16);
  EXPECT_EQ(sweep.base.reuse_interval, 2);
}

TEST(OverrideOrder, AxisReplacementKeepsAxisOrderAndTheOtherAxes) {
  testing::ScratchDir dir;
  const std::string path = dir.write("overrides.yaml", kSweep);
  const SweepConfig sweep = load_sweep(
      path,
      {{Override::axis, "logical_page_size=[16]"}, {Override::axis, "page_size=[16,64]"},
       {Override::fixed, "token_budget=512"}, {Override::fixed, "batch=2"}},
      testing::repo_configs_dir());
  ASSERT_EQ(sweep.axes.size(), 2u);  // token_budget became a fixed value
  EXPECT_EQ(sweep.axes[0].key, "page_size");
  EXPECT_EQ(sweep.axes[0].values, (std::vector<std::string>{"16", "64"}));
  EXPECT_EQ(sweep.axes[1].key, "logical_page_size");
  EXPECT_EQ(sweep.axes[1].values, (std::vector<std::string>{"16"}));
  EXPECT_EQ(sweep.base.token_budget, 512);
  EXPECT_EQ(sweep.base.batch, 2);
  EXPECT_EQ(sweep.base.context_len, 4096);
  EXPECT_EQ(sweep.base.mode, SparsityMode::static_dynamic);
}

}  // namespace
}  // namespace unisparse
