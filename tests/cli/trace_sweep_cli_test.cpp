// Trace sweeps end to end: rows record what ran (the trace's context, the decode steps that ran, the
// head layout, what the trace replaced), `layer: all`, calibrate-heads and the calibrated head
// selection on a synthetic trace whose retrieval heads are planted, and select --selector.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/config/head_calibration_file.h"
#include "tests/cli/cli_process.h"
#include "tests/common/tiny_trace.h"

namespace fs = std::filesystem;

namespace unisparse {
namespace {

using testing_support::CliResult;
using testing_support::run_cli;

std::vector<nlohmann::json> rows_of(const fs::path& run_dir) {
  std::vector<nlohmann::json> rows;
  std::ifstream jsonl(run_dir / "points.jsonl");
  for (std::string line; std::getline(jsonl, line);) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

class TraceSweepCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("unisparse_trace_cli_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  std::string configs() const { return std::string(UNISPARSE_SOURCE_DIR) + "/configs"; }
  CliResult run_sweep(const std::string& sweep, const std::string& run_id,
                      const std::string& extra = "") {
    return run_cli("run " + sweep + " --configs " + configs() + " --quiet --run-id " + run_id +
                       " --results " + (dir_ / "results").string() + " " + extra,
                   dir_);
  }
  fs::path dir_;
};

constexpr const char* kSweep = R"(name: trace_cli
model: tiny
workload: {trace: model.safetensors, layer: all}
phase: decode
backends: [cpu]
fixed: {mode: static+dynamic, page_size: 16, logical_page_size: 16, token_budget: 64,
        reuse_interval: 1, streaming_fraction: 0.5, sink_tokens: 16, local_tokens: 32}
axes:
  selector: [quest, oracle]
timing: {warmup: 0, min_iters: 1, max_iters: 1}
)";

TEST_F(TraceSweepCli, RowsRecordWhatRan) {
  testing::TinyTrace spec;
  spec.layers = {0, 3};
  spec.context_len = 260;
  spec.decode_steps = 5;
  spec.with_head_types = false;
  testing::write_tiny_trace((dir_ / "model.safetensors").string(), spec);
  const CliResult result = run_sweep(write("sweep.yaml", kSweep), "r");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::vector<nlohmann::json> rows = rows_of(dir_ / "results" / "trace_cli" / "r");
  ASSERT_EQ(rows.size(), 4u);  // 2 layers x 2 selectors, the layers outermost
  std::map<std::string, double> recall;
  for (size_t i = 0; i < rows.size(); ++i) {
    const nlohmann::json& row = rows[i];
    ASSERT_EQ(row["status"], "ok") << row["reason"];
    EXPECT_EQ(row["layer"], i < 2 ? 0 : 3);
    EXPECT_EQ(row["context_len"], 260);  // not the default 4096
    EXPECT_EQ(row["decode_steps"], 5);   // the default 16 lowered to the trace's steps
    EXPECT_EQ(row["num_q_heads"], 4);
    EXPECT_EQ(row["num_kv_heads"], 2);
    EXPECT_EQ(row["trace_overrides"], "context_len: 4096 -> 260; decode_steps: 16 -> 5");
    EXPECT_EQ(row["head_selection"], "interleaved");
    EXPECT_EQ(row["head_layout"], "ds");  // the fraction applied: the trace has no head types
    EXPECT_EQ(row["num_streaming_heads"], 1);
    recall[row["selector"].get<std::string>()] += row["page_recall"].get<double>() / 2;
  }
  EXPECT_GT(recall["oracle"], 0.99);
  EXPECT_LT(recall["quest"], recall["oracle"]);
}

TEST_F(TraceSweepCli, ASweepValueTheTraceOverridesIsBadInput) {
  testing::TinyTrace spec;
  spec.layers = {0, 3};
  testing::write_tiny_trace((dir_ / "model.safetensors").string(), spec);
  std::string sweep = kSweep;
  sweep.replace(sweep.find("mode: static+dynamic"), 20, "mode: static, context_len: 7985");
  const CliResult result = run_sweep(write("sweep.yaml", sweep), "r");
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("fixed.context_len"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("differs from the prompt tokens (300)"), std::string::npos) << result.err;
  EXPECT_FALSE(fs::exists(dir_ / "results"));
  // A layer a calibration does not cover is found before the run directory exists too.
  write("gates.tsv", "0.1\t0.9\n");  // layer 0 only
  const CliResult uncovered =
      run_sweep(write("sweep2.yaml", kSweep), "r",
                "--set head_selection=calibrated --set head_calibration=" + (dir_ / "gates.tsv").string());
  EXPECT_EQ(uncovered.exit_code, 2) << uncovered.err;
  EXPECT_NE(uncovered.err.find("no scores for layer 3"), std::string::npos) << uncovered.err;
  EXPECT_FALSE(fs::exists(dir_ / "results"));
}

// Four layers whose KV head 1 is a planted streaming-type head (no head types in the file), with a
// needle at half depth: calibrate-heads must find the planted heads, and keeping them streaming
// (calibrated) must keep every needle-seeking row on a dense head.
TEST_F(TraceSweepCli, CalibrationFindsThePlantedRetrievalHeads) {
  testing::TinyTrace spec;
  spec.layers = {0, 1, 2, 3};
  spec.context_len = 1024;
  spec.decode_steps = 4;
  spec.with_head_types = false;
  spec.needle_depths = {0.5};
  spec.needle_metadata = true;
  const std::string trace = testing::write_tiny_trace((dir_ / "model.safetensors").string(), spec);

  const std::string out = (dir_ / "planted.yaml").string(), tsv = (dir_ / "planted.tsv").string();
  const CliResult calibrated =
      run_cli("calibrate-heads --trace " + trace + " --model tiny --sink-tokens 16 --local-tokens 32"
              " --configs " + configs() + " --out " + out + " --duo-tsv " + tsv, dir_);
  ASSERT_EQ(calibrated.exit_code, 0) << calibrated.err;
  const HeadCalibration calibration = load_head_calibration_file(out);
  EXPECT_EQ(calibration.model, "tiny");
  EXPECT_EQ(calibration.metric, "out_rel_l2");
  EXPECT_EQ(calibration.sink_tokens, 16);
  EXPECT_EQ(calibration.layers, spec.layers);
  ASSERT_EQ(calibration.traces.size(), 1u);
  EXPECT_EQ(calibration.traces[0].prompt_kind, "passkey");
  EXPECT_EQ(calibration.traces[0].tokens, 1024);
  EXPECT_EQ(calibration.traces[0].decode_steps, 4);
  EXPECT_EQ(calibration.date.size(), 10u);
  for (size_t layer = 0; layer < 4; ++layer)
    for (const char* score : {"out_rel_l2", "outside_mass"})
      EXPECT_LT(calibration.scores.at(score)[layer][1], calibration.scores.at(score)[layer][0])
          << "layer " << layer << " " << score;
  EXPECT_EQ(read_duo_attention_tsv(tsv).layers.size(), 4u);

  // The sweep: every layer, the three selections at half the heads streaming.
  const std::string sweep = write("heads.yaml", R"(name: heads_cli
model: tiny
workload: {trace: model.safetensors, layer: all}
phase: decode
backends: [cpu]
fixed: {mode: static, streaming_fraction: 0.5, sink_tokens: 16, local_tokens: 32,
        head_calibration: )" + tsv + R"(, seed: 3}
axes:
  head_selection: [calibrated, random, calibrated_inverted]
timing: {warmup: 0, min_iters: 1, max_iters: 1}
)");
  const CliResult result = run_sweep(sweep, "r");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // Half of a retrieval head's decode queries seek the needle: a layer whose queries all seek
  // topics has no needle-seeking row (needle_hit empty) and is left out of the mean.
  std::map<std::string, double> needle_hit;
  std::map<std::string, int> streaming, layers_with_needle_rows;
  for (const nlohmann::json& row : rows_of(dir_ / "results" / "heads_cli" / "r")) {
    ASSERT_EQ(row["status"], "ok") << row["reason"];
    const std::string selection = row["head_selection"];
    if (row["needle_hit"].is_number()) {
      needle_hit[selection] += row["needle_hit"].get<double>();
      ++layers_with_needle_rows[selection];
    }
    streaming[selection] += row["num_streaming_heads"].get<int>();
    if (selection == "calibrated") EXPECT_EQ(row["head_layout"], "ds") << "layer " << row["layer"];
    if (selection == "calibrated_inverted") EXPECT_EQ(row["head_layout"], "sd");
  }
  for (const char* selection : {"calibrated", "random", "calibrated_inverted"}) {
    EXPECT_EQ(streaming[selection], 4) << selection;  // half of 4 layers x 2 KV heads
    ASSERT_GE(layers_with_needle_rows[selection], 2) << selection;
    needle_hit[selection] /= layers_with_needle_rows[selection];
  }
  EXPECT_EQ(needle_hit["calibrated"], 1.0);
  EXPECT_EQ(needle_hit["calibrated_inverted"], 0.0);
  EXPECT_GE(needle_hit["random"], needle_hit["calibrated_inverted"]);
  EXPECT_LE(needle_hit["random"], needle_hit["calibrated"]);
}

TEST_F(TraceSweepCli, CalibrateHeadsBadInputWritesNothing) {
  const std::string trace = testing::write_tiny_trace((dir_ / "model.safetensors").string());
  const std::string out = (dir_ / "c.yaml").string();
  const std::string common = " --model tiny --sink-tokens 16 --local-tokens 32 --configs " + configs();
  for (const std::string& arguments :
       {"--trace " + (dir_ / "none.safetensors").string() + common + " --out " + out,
        "--trace " + trace + common + " --out " + out + " --metric mass",
        "--trace " + trace + common + " --out " + (dir_ / "no_dir" / "c.yaml").string(),
        "--trace " + trace + " --model llama3-8b --sink-tokens 16 --local-tokens 32 --configs " +
            configs() + " --out " + out,
        "--trace " + trace + common + " --out " + (dir_ / "c.txt").string(),
        "--trace " + trace + " --model tiny --sink-tokens -1 --local-tokens 32 --out " + out}) {
    const CliResult result = run_cli("calibrate-heads " + arguments, dir_);
    EXPECT_EQ(result.exit_code, 2) << arguments << "\n" << result.err;
    EXPECT_FALSE(fs::exists(out)) << arguments;
  }
}

TEST_F(TraceSweepCli, SelectTakesTheOracle) {
  const std::string trace = testing::write_tiny_trace((dir_ / "model.safetensors").string());
  const std::string common = "select --trace " + trace +
                             " --page-size 32 --logical-page-size 32 --token-budget 96 --reuse-interval 1";
  const CliResult quest = run_cli(common, dir_);
  const CliResult oracle = run_cli(common + " --selector oracle", dir_);
  ASSERT_EQ(quest.exit_code, 0) << quest.err;
  ASSERT_EQ(oracle.exit_code, 0) << oracle.err;
  const auto oracle_steps = nlohmann::json::parse(oracle.out).at("selections");
  ASSERT_EQ(oracle_steps.size(), 6u);
  for (const auto& step : oracle_steps)
    for (const auto& pages : step) {
      EXPECT_EQ(pages.size(), 3u);
      EXPECT_EQ(pages.back(), 9);  // 300 + s + 1 tokens: page 9 is the last page
    }
  EXPECT_EQ(run_cli(common + " --selector best", dir_).exit_code, 2);
}

}  // namespace
}  // namespace unisparse
