// A trace's precision is used as stored: an f32 trace's page sets from `unisparse select` equal
// selections computed in fp32 from the same generated tensors, and a trace sweep runs q/k/v and the
// cache in the stored precision unless the sweep sets dtype / kv_dtype, recording the replaced
// defaults in trace_overrides.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/sparse/page_selector.h"
#include "tests/cli/cli_process.h"
#include "tests/common/tiny_trace.h"
#include "tests/config/yaml_test_files.h"

namespace unisparse {
namespace {

namespace fs = std::filesystem;
using testing_support::CliResult;
using testing_support::run_cli;

testing::TinyTrace f32_trace() {
  testing::TinyTrace spec;
  spec.context_len = 500;
  spec.decode_steps = 6;
  spec.dtype = DType::fp32;
  return spec;
}

TEST(TracePrecisionCli, SelectOfAnF32TraceEqualsAnF32Reference) {
  const testing::ScratchDir dir;
  const testing::TinyTrace spec = f32_trace();
  const std::string trace = testing::write_tiny_trace(dir.path() + "/f32.safetensors", spec);
  const CliResult result =
      run_cli("select --trace " + trace + " --page-size 16 --logical-page-size 16 "
              "--token-budget 64 --reuse-interval 1",
              dir.path());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json printed = nlohmann::json::parse(result.out)["selections"];

  // The reference: the generated fp32 tensors themselves (write_tiny_trace's layer 0, seed 100).
  const Workload workload = generate_workload(testing::tiny_generator_point(spec, 100));
  DecodePlan plan;
  plan.mode = SparsityMode::dynamic_only;
  plan.heads = HeadLayout::all_dense(workload.shape.num_kv_heads);
  plan.geometry = {16, 16};
  plan.policy = {64, 1, GqaSelection::per_query_head};
  const DecodeSelections expected = select_all_steps(workload, plan);
  ASSERT_EQ(printed.size(), expected.size());
  for (size_t step = 0; step < expected.size(); ++step)
    for (int h = 0; h < workload.shape.num_q_heads; ++h) {
      const auto pages = expected[step].row(h);
      EXPECT_EQ(printed[step][h].get<std::vector<int32_t>>(),
                std::vector<int32_t>(pages.begin(), pages.end()))
          << "step " << step << " head " << h;
    }
}

TEST(TracePrecisionCli, TraceSweepsRunTheStoredPrecisionUnlessTheSweepSetsIt) {
  const testing::ScratchDir dir;
  testing::write_tiny_trace(dir.path() + "/f32.safetensors", f32_trace());
  const std::string sweep = dir.write(
      "precision.yaml",
      "name: precision\nmodel: tiny\nworkload: {trace: f32.safetensors, layer: 0}\n"
      "phase: decode\nbackends: [cpu]\n"
      "fixed: {page_size: 16, logical_page_size: 16, token_budget: 64}\n"
      "timing: {warmup: 0, min_iters: 1, max_iters: 1}\n");
  auto first_row = [&](const std::string& run_id, const std::string& extra) {
    const CliResult result =
        run_cli("run " + sweep + " --configs " + std::string(UNISPARSE_SOURCE_DIR) +
                    "/configs --quiet --results " + dir.path() + "/results --run-id " + run_id +
                    " " + extra,
                dir.path());
    EXPECT_EQ(result.exit_code, 0) << result.err;
    std::ifstream jsonl(fs::path(dir.path()) / "results" / "precision" / run_id / "points.jsonl");
    std::string line;
    std::getline(jsonl, line);
    return nlohmann::json::parse(line);
  };
  const nlohmann::json stored = first_row("stored", "");
  EXPECT_EQ(stored["dtype"], "fp32");
  EXPECT_EQ(stored["kv_dtype"], "fp32");
  const std::string overrides = stored["trace_overrides"].get<std::string>();
  EXPECT_NE(overrides.find("dtype: fp16 -> fp32"), std::string::npos) << overrides;
  EXPECT_NE(overrides.find("kv_dtype: fp16 -> fp32"), std::string::npos) << overrides;

  const nlohmann::json rounded = first_row("rounded", "--set dtype=fp16 --set kv_dtype=fp16");
  EXPECT_EQ(rounded["dtype"], "fp16");
  EXPECT_EQ(rounded["kv_dtype"], "fp16");
  EXPECT_EQ(rounded["trace_overrides"].get<std::string>().find("dtype"), std::string::npos);
}

}  // namespace
}  // namespace unisparse
