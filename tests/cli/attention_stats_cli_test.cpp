// `unisparse attention-stats` end to end: a trace's layers and a generated workload give one JSON
// row per (layer, query head) with the values of metrics/attention_stats.h, and bad input exits
// with 2, a message naming the file or option, and nothing on stdout.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "framework/config/workload_config.h"
#include "framework/metrics/attention_stats.h"
#include "tests/cli/cli_process.h"
#include "tests/common/tiny_trace.h"

namespace fs = std::filesystem;

namespace unisparse {
namespace {

using testing_support::CliResult;
using testing_support::run_cli;

class AttentionStatsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("unisparse_attention_stats_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  CliResult stats(const std::string& arguments) {
    return run_cli("attention-stats --configs " + std::string(UNISPARSE_SOURCE_DIR) +
                       "/configs " + arguments,
                   dir_);
  }
  void expect_bad_input(const std::string& arguments, const std::string& named) {
    const CliResult result = stats(arguments);
    EXPECT_EQ(result.exit_code, 2) << arguments << "\n" << result.err;
    EXPECT_NE(result.err.find(named), std::string::npos) << result.err;
    EXPECT_TRUE(result.out.empty()) << result.out;
  }
  fs::path dir_;
};

TEST_F(AttentionStatsCli, EveryLayerAndQueryHeadOfATrace) {
  testing::TinyTrace spec;
  spec.layers = {0, 2};
  const std::string trace = testing::write_tiny_trace((dir_ / "t.safetensors").string(), spec);
  const CliResult result = stats("--trace " + trace + " --json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json answer = nlohmann::json::parse(result.out);
  const nlohmann::json& heads = answer["heads"];
  ASSERT_EQ(heads.size(), 8u);  // 2 layers x 4 query heads
  EXPECT_EQ(heads[0]["layer"], 0);
  EXPECT_EQ(heads[7]["layer"], 2);
  EXPECT_EQ(heads[7]["q_head"], 3);
  EXPECT_EQ(heads[7]["kv_head"], 1);
  EXPECT_EQ(answer["settings"]["token_budget"], 512);

  // The numbers are the library's on the same layer, read the same way.
  PointConfig point;
  point.model.clear();
  point.shape = {};
  point.dtype = DType::fp32;
  point.decode_steps = spec.decode_steps;
  point.streaming_fraction = 0;
  const std::vector<HeadAttentionStats> expected =
      attention_stats(read_trace(trace, 2, point), AttentionStatsSettings{});
  for (int h = 0; h < 4; ++h) {
    const nlohmann::json& row = heads[4 + h];
    EXPECT_DOUBLE_EQ(row["sink_mass_64"].get<double>(), expected[h].sink_mass[1]);
    EXPECT_DOUBLE_EQ(row["top_mass_0.01"].get<double>(), expected[h].top_mass[0]);
    EXPECT_DOUBLE_EQ(row["page_efficiency_64"].get<double>(), expected[h].page_efficiency[1]);
    EXPECT_DOUBLE_EQ(row["reuse_retention_4"].get<double>(), expected[h].reuse_retention[1]);
    EXPECT_TRUE(row["needle_mass"].is_null());
  }

  const CliResult one = stats("--trace " + trace + " --layer 2 --json");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(nlohmann::json::parse(one.out)["heads"].size(), 4u);
  const CliResult summary = stats("--trace " + trace);
  ASSERT_EQ(summary.exit_code, 0) << summary.err;
  EXPECT_NE(summary.out.find("page_efficiency_16"), std::string::npos) << summary.out;
}

TEST_F(AttentionStatsCli, AGeneratedWorkloadFromModelWorkloadAndSets) {
  const CliResult result = stats(
      "--model tiny --workload needle --set context_len=300 --set decode_steps=5 "
      "--set workload.needle_strength=7 --set workload.jump_probability=1 --token-budget 128 "
      "--json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json answer = nlohmann::json::parse(result.out);
  EXPECT_EQ(answer["source"]["workload"], "needle");
  EXPECT_EQ(answer["source"]["params"]["workload.needle_strength"], "7.0");
  EXPECT_EQ(answer["source"]["params"]["context_len"], "300");
  ASSERT_EQ(answer["heads"].size(), 4u);
  EXPECT_TRUE(answer["heads"][0]["layer"].is_null());
  EXPECT_EQ(answer["heads"][0]["decode_steps"], 5);
  // The needle workload plants needles; a query re-picking its target at every step seeks one
  // within 5 steps (at this seed), so the workload has needle tokens.
  EXPECT_FALSE(answer["heads"][0]["needle_mass"].is_null());

  const CliResult by_default = stats("--model tiny --set context_len=200 --set decode_steps=2 --json");
  ASSERT_EQ(by_default.exit_code, 0) << by_default.err;
  EXPECT_EQ(nlohmann::json::parse(by_default.out)["source"]["workload"],
            std::string(kDefaultWorkload));
}

TEST_F(AttentionStatsCli, BadInputExitsWithTwoAndWritesNothing) {
  testing::TinyTrace spec;
  const std::string trace = testing::write_tiny_trace((dir_ / "t.safetensors").string(), spec);
  expect_bad_input("--trace " + trace + " --layer 5", "layers.5");
  expect_bad_input("--trace " + (dir_ / "missing.safetensors").string(), "missing.safetensors");
  expect_bad_input("--trace " + trace + " --model tiny", "--trace");
  expect_bad_input("--trace " + trace + " --set seed=3", "--set");
  expect_bad_input("--model tiny --layer 0", "--layer");
  expect_bad_input("--model tiny --set page_size=16", "page_size");
  expect_bad_input("--model tiny --set workload.needle_strenght=3", "did you mean");
  expect_bad_input("--model tiny --set workload.strength_spread=-1", "workload.strength_spread");
  expect_bad_input("--model nosuchmodel", "nosuchmodel");
  expect_bad_input("--model tiny --workload nosuchworkload", "nosuchworkload");
  expect_bad_input("--model tiny --token-budget 100", "--token-budget");
  expect_bad_input("--model tiny --top-fractions 0.1,x", "--top-fractions");
  expect_bad_input("--model tiny --set decode_steps=0", "decode_steps");
}

}  // namespace
}  // namespace unisparse
