// End-to-end tests of the unisparse binary: bad input exits 2 and writes nothing, a tiny sweep
// writes its run directory and resumes, `select` prints the selector's page sets as JSON.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "framework/config/point.h"
#include "framework/sparse/page_selector.h"
#include "framework/workload/generator.h"
#include "framework/workload/trace.h"

namespace fs = std::filesystem;
using namespace unisparse;

namespace {

struct Result {
  int exit_code;
  std::string out;
  std::string err;
};

Result run_cli(const std::string& arguments, const fs::path& dir) {
  const fs::path err_file = dir / "stderr.txt";
  const std::string command = std::string(UNISPARSE_CLI) + " " + arguments + " 2>" + err_file.string();
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  const int status = pclose(pipe);
  std::ifstream err_stream(err_file);
  std::stringstream err;
  err << err_stream.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out, err.str()};
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("unisparse_cli_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  std::string configs() const { return std::string(UNISPARSE_SOURCE_DIR) + "/configs"; }
  fs::path dir_;
};

constexpr const char* kTinySweep = R"(name: cli_tiny
model: tiny
workload: needle
phase: decode
backends: [cpu]
fixed: {context_len: 300, batch: 1, decode_steps: 5, streaming_fraction: 0.5, sink_tokens: 16,
        local_tokens: 32, mode: static+dynamic, logical_page_size: 8, token_budget: 96}
axes:
  page_size: [16, 32, 64]
timing: {warmup: 0, min_iters: 1, max_iters: 2}
)";

TEST_F(CliTest, MisspelledKeyExitsTwoNamingKeyAndLineAndWritesNothing) {
  std::string sweep = kTinySweep;
  sweep.replace(sweep.find("decode_steps"), 12, "decode_stpes");
  write("bad.yaml", sweep);
  const Result result = run_cli("run " + (dir_ / "bad.yaml").string() + " --configs " + configs() +
                                    " --results " + (dir_ / "results").string(),
                                dir_);
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("decode_stpes"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("bad.yaml:6"), std::string::npos) << result.err;
  EXPECT_FALSE(fs::exists(dir_ / "results"));
}

TEST_F(CliTest, BadOverrideExitsTwo) {
  write("ok.yaml", kTinySweep);
  const Result result = run_cli("run " + (dir_ / "ok.yaml").string() + " --configs " + configs() +
                                    " --set reuse_interval=zero --results " + (dir_ / "results").string(),
                                dir_);
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("reuse_interval"), std::string::npos) << result.err;
  EXPECT_FALSE(fs::exists(dir_ / "results"));
}

TEST_F(CliTest, TinySweepWritesRowsAndSkipsInvalidPointsAndResumes) {
  write("ok.yaml", kTinySweep);
  const std::string common = "run " + (dir_ / "ok.yaml").string() + " --configs " + configs() +
                             " --quiet --run-id r1 --results " + (dir_ / "results").string();
  const Result result = run_cli(common, dir_);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("run_dir: "), std::string::npos);
  const fs::path run_dir = dir_ / "results" / "cli_tiny" / "r1";
  ASSERT_TRUE(fs::exists(run_dir / "points.jsonl"));
  ASSERT_TRUE(fs::exists(run_dir / "points.csv"));
  ASSERT_TRUE(fs::exists(run_dir / "config.yaml"));
  ASSERT_TRUE(fs::exists(run_dir / "meta.json"));
  std::ifstream jsonl(run_dir / "points.jsonl");
  std::string line;
  int ok = 0, skipped = 0, rows = 0;
  while (std::getline(jsonl, line)) {
    const auto row = nlohmann::json::parse(line);
    ++rows;
    if (row["status"] == "ok") {
      ++ok;
      EXPECT_GT(row["attn_recall"].get<double>(), 0.0);
      EXPECT_LE(row["attn_recall"].get<double>(), 1.0 + 1e-9);
      EXPECT_TRUE(row["time_us"].is_number());
    }
    if (row["status"] == "skipped") {
      ++skipped;
      EXPECT_FALSE(row["reason"].get<std::string>().empty());
    }
  }
  EXPECT_EQ(rows, 3);
  EXPECT_EQ(ok, 2);       // page 16 and 32
  EXPECT_EQ(skipped, 1);  // budget 96 is not a multiple of page 64
  std::ifstream csv(run_dir / "points.csv");
  std::getline(csv, line);
  EXPECT_EQ(line.rfind("sweep,point_id,status,reason,phase,backend,mode", 0), 0u) << line;

  // A resumed run finds every point done and adds nothing.
  const Result resumed = run_cli("run " + (dir_ / "ok.yaml").string() + " --configs " + configs() +
                                     " --quiet --resume " + run_dir.string(),
                                 dir_);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  std::ifstream again(run_dir / "points.jsonl");
  int rows_after = 0;
  while (std::getline(again, line)) ++rows_after;
  EXPECT_EQ(rows_after, 3);
}

TEST_F(CliTest, SelectPrintsTheSelectorsPageSets) {
  PointConfig point;
  point.model = "tiny";
  point.shape = {4, 2, 64};
  point.context_len = 1000;
  point.decode_steps = 6;
  point.phase = Phase::decode;
  point.streaming_fraction = 0.0;
  point.seed = 7;
  const Workload workload = generate_workload(point);
  const fs::path trace = dir_ / "trace.safetensors";
  write_trace(trace.string(), workload, 0, DType::fp16, {{"model", "tiny"}});

  const Result result = run_cli("select --trace " + trace.string() +
                                    " --page-size 32 --logical-page-size 16 --token-budget 256"
                                    " --reuse-interval 4 --gqa-selection kv_head_max",
                                dir_);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  const auto& steps = json.at("selections");
  ASSERT_EQ(steps.size(), 6u);

  PointConfig read_point;
  read_point.model.clear();
  read_point.shape = {};
  read_point.decode_steps = 1 << 30;
  const Workload from_trace = read_trace(trace.string(), 0, read_point);
  DecodePlan plan;
  plan.mode = SparsityMode::dynamic_only;
  plan.heads = HeadLayout::all_dense(2);
  plan.geometry = {32, 16};
  plan.policy = {256, 4, GqaSelection::kv_head_max};
  const DecodeSelections expected = select_all_steps(from_trace, plan);
  for (int s = 0; s < 6; ++s) {
    ASSERT_EQ(steps[s].size(), 4u);
    const int last_page = (1000 + s) / 32;  // token 1000 + s is the newest
    for (int h = 0; h < 4; ++h) {
      const auto pages = steps[s][h].get<std::vector<int32_t>>();
      const auto row = expected[s].row(h);
      EXPECT_EQ(pages, std::vector<int32_t>(row.begin(), row.end())) << "step " << s << " head " << h;
      EXPECT_EQ(pages.size(), 8u);  // 256 / 32 pages, the context has more than 8 pages
      EXPECT_TRUE(std::is_sorted(pages.begin(), pages.end()));
      EXPECT_EQ(pages.back(), last_page);
    }
    EXPECT_EQ(steps[s][0], steps[s][1]);  // kv_head_max: one selection per KV-head group
  }
}

TEST_F(CliTest, SelectRejectsBudgetNotMultipleOfPage) {
  const Result result = run_cli("select --trace /nonexistent.safetensors --page-size 32 "
                                "--logical-page-size 16 --token-budget 100 --reuse-interval 4",
                                dir_);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_FALSE(result.err.empty());
}

TEST_F(CliTest, EveryCommandHasHelp) {
  for (const char* command : {"run", "list", "select"}) {
    const Result result = run_cli(std::string(command) + " --help", dir_);
    EXPECT_EQ(result.exit_code, 0) << command;
    EXPECT_NE(result.out.find("usage: unisparse"), std::string::npos) << command;
  }
}

}  // namespace

namespace {

TEST_F(CliTest, QuantizedKvRunsOnTheCpuBackendAndFloatMismatchIsSkipped) {
  write("kv.yaml", R"(name: cli_kv
model: tiny
workload: needle
phase: decode
backends: [cpu]
fixed: {context_len: 300, batch: 1, decode_steps: 4, mode: dense, dtype: fp16, page_size: 16}
axes:
  kv_dtype: [fp16, int8, int4, bf16]
timing: {warmup: 0, min_iters: 1, max_iters: 1}
)");
  const Result result = run_cli("run " + (dir_ / "kv.yaml").string() + " --configs " + configs() +
                                    " --quiet --run-id r --results " + (dir_ / "results").string(),
                                dir_);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::ifstream jsonl(dir_ / "results" / "cli_kv" / "r" / "points.jsonl");
  std::map<std::string, nlohmann::json> rows;
  for (std::string line; std::getline(jsonl, line);) {
    const auto row = nlohmann::json::parse(line);
    rows[row["kv_dtype"].get<std::string>()] = row;
  }
  ASSERT_EQ(rows.size(), 4u);
  for (const char* format : {"fp16", "int8", "int4"}) ASSERT_EQ(rows[format]["status"], "ok") << format;
  EXPECT_EQ(rows["bf16"]["status"], "skipped");  // a float KV cache is stored in dtype (fp16)
  // Dense attention: fp16 is exact up to rounding; quantization costs accuracy, int4 more than int8.
  const double fp16 = rows["fp16"]["out_rel_l2_mean"], int8 = rows["int8"]["out_rel_l2_mean"],
               int4 = rows["int4"]["out_rel_l2_mean"];
  EXPECT_LT(fp16, 1e-5);
  EXPECT_GT(int8, 10 * fp16);
  EXPECT_GT(int4, 2 * int8);
  EXPECT_LT(int4, 0.5);
}

}  // namespace

namespace {

// The cpu backend's cache is the workload itself: cache_fill changes nothing in its rows, and
// time_prefill_us (a cuda measurement) stays empty.
TEST_F(CliTest, CacheFillIsIgnoredByTheCpuBackend) {
  write("fill.yaml", R"(name: cli_fill
model: tiny
workload: needle
phase: decode
backends: [cpu]
fixed: {context_len: 300, batch: 1, decode_steps: 4, mode: static+dynamic, page_size: 16,
        logical_page_size: 16, token_budget: 64}
axes:
  cache_fill: [upload, prefill]
timing: {warmup: 0, min_iters: 1, max_iters: 1}
)");
  const Result result = run_cli("run " + (dir_ / "fill.yaml").string() + " --configs " + configs() +
                                    " --quiet --run-id r --results " + (dir_ / "results").string(),
                                dir_);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::ifstream jsonl(dir_ / "results" / "cli_fill" / "r" / "points.jsonl");
  std::map<std::string, nlohmann::json> rows;
  for (std::string line; std::getline(jsonl, line);) {
    const auto row = nlohmann::json::parse(line);
    rows[row["cache_fill"].get<std::string>()] = row;
  }
  ASSERT_EQ(rows.size(), 2u);
  for (const char* fill : {"upload", "prefill"}) {
    ASSERT_EQ(rows[fill]["status"], "ok") << fill << ": " << rows[fill]["reason"];
    ASSERT_TRUE(rows[fill].contains("time_prefill_us")) << fill;
    EXPECT_TRUE(rows[fill]["time_prefill_us"].is_null()) << fill;
  }
  for (const char* metric : {"out_rel_l2_mean", "out_rel_l2_max", "attn_recall", "page_recall"})
    EXPECT_EQ(rows["upload"][metric], rows["prefill"][metric]) << metric;
}

}  // namespace
