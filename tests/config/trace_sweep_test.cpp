// Sweeps over traces: the layer parameter (`all` included), the values a trace decides
// (context_len, batch, decode_steps), head selections and calibrations, relative paths.
#include <gtest/gtest.h>

#include <filesystem>

#include "framework/config/head_calibration_file.h"
#include "framework/config/sweep_config.h"
#include "tests/common/tiny_trace.h"
#include "tests/config/yaml_test_files.h"

namespace unisparse {
namespace {

using testing::expect_contains;
using testing::input_error_of;
using testing::repo_configs_dir;
using testing::ScratchDir;

// Line numbers below refer to this text; the trace holds layers 0, 2, 5 of 300 tokens, 6 steps.
const std::string kTraceSweep =
    "name: trace_sweep\n"                         // 1
    "model: tiny\n"                               // 2
    "workload: {trace: model.safetensors}\n"      // 3
    "phase: decode\n"                             // 4
    "backends: [cpu]\n"                           // 5
    "fixed:\n"                                    // 6
    "  page_size: 32\n"                           // 7
    "axes:\n"                                     // 8
    "  token_budget: [64, 128]\n";                // 9

std::string with_line(int line, const std::string& text) {
  std::string result;
  size_t start = 0;
  for (int current = 1; start < kTraceSweep.size(); ++current) {
    const size_t end = kTraceSweep.find('\n', start) + 1;
    result += current == line ? text + "\n" : kTraceSweep.substr(start, end - start);
    start = end;
  }
  return result;
}

class TraceSweepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::TinyTrace spec;
    spec.layers = {0, 2, 5};
    testing::write_tiny_trace(dir_.path() + "/model.safetensors", spec);
  }
  SweepConfig load(const std::string& text, const std::vector<Override>& overrides = {}) {
    return load_sweep(dir_.write("sweep.yaml", text), overrides, repo_configs_dir());
  }
  std::string error_at(const std::string& text, int line, const std::string& key) {
    const std::string message = input_error_of([&] { load(text); });
    expect_contains(message, {dir_.path() + "/sweep.yaml:" + std::to_string(line) + ":",
                              "key '" + key + "'"});
    return message;
  }
  ScratchDir dir_;
};

TEST_F(TraceSweepTest, TheTraceDecidesContextBatchAndDecodeSteps) {
  const SweepConfig sweep = load(kTraceSweep);
  EXPECT_EQ(sweep.base.context_len, 300);  // default 4096 replaced
  EXPECT_EQ(sweep.base.decode_steps, 6);   // default 16 lowered to the trace's
  EXPECT_EQ(sweep.base.batch, 1);
  EXPECT_EQ(sweep.base.workload.trace_overrides, "context_len: 4096 -> 300; decode_steps: 16 -> 6");

  // Explicit values the trace agrees with are kept, and fewer decode steps than the trace holds.
  const SweepConfig agreeing =
      load(with_line(7, "  page_size: 32\n  context_len: 300\n  decode_steps: 4\n  batch: 1"));
  EXPECT_EQ(agreeing.base.decode_steps, 4);
  EXPECT_EQ(agreeing.base.workload.trace_overrides, "");
}

TEST_F(TraceSweepTest, ExplicitValuesTheTraceOverridesAreErrors) {
  expect_contains(error_at(with_line(7, "  context_len: 7985"), 7, "fixed.context_len"),
                  {"context_len 7985 differs from the prompt tokens (300)", "model.safetensors"});
  expect_contains(error_at(with_line(7, "  decode_steps: 64"), 7, "fixed.decode_steps"),
                  {"decode_steps 64 exceeds the decode steps (6)"});
  expect_contains(error_at(with_line(7, "  batch: 4"), 7, "fixed.batch"), {"the one sequence"});
  expect_contains(error_at(with_line(9, "  context_len: [300, 600]"), 9, "axes.context_len"),
                  {"context_len 600"});
  const std::string message = input_error_of(
      [&] { load(kTraceSweep, {{Override::fixed, "context_len=1000"}}); });
  expect_contains(message, {"<command line>", "context_len 1000 differs"});
}

TEST_F(TraceSweepTest, LayerAllSweepsEveryLayerOfTheTraceFirst) {
  for (const std::string& text :
       {with_line(3, "workload: {trace: model.safetensors, layer: all}"),
        with_line(7, "  page_size: 32\n  layer: all"), with_line(9, "  layer: all\n  token_budget: [64, 128]")}) {
    const SweepConfig sweep = load(text);
    ASSERT_EQ(sweep.axes.size(), 2u) << text;
    EXPECT_EQ(sweep.axes[0].key, "layer");
    EXPECT_EQ(sweep.axes[0].values, (std::vector<std::string>{"0", "2", "5"}));
    // The resolved sweep loads again and names the same layers.
    const std::string resolved = dir_.write("resolved.yaml", sweep.resolved_yaml);
    const SweepConfig again = load_sweep(resolved, {}, repo_configs_dir());
    EXPECT_EQ(again.axes[0].values, sweep.axes[0].values);
    EXPECT_EQ(again.base.workload.trace_path, sweep.base.workload.trace_path);
  }
  const SweepConfig overridden = load(kTraceSweep, {{Override::axis, "layer=all"}});
  EXPECT_EQ(overridden.axes[0].key, "layer");
  // The command line wins over the workload mapping's layer.
  const SweepConfig one = load(with_line(3, "workload: {trace: model.safetensors, layer: all}"),
                               {{Override::fixed, "layer=5"}});
  EXPECT_EQ(one.axes.size(), 1u);
  EXPECT_EQ(one.base.workload.trace_layer, 5);
}

// `all` becomes the first axis ahead of several others, and the workload mapping's layer the first
// fixed entry ahead of several others: every other axis and fixed value keeps its own values.
TEST_F(TraceSweepTest, LayerAllAheadOfSeveralAxesKeepsTheirValues) {
  std::string text = with_line(3, "workload: {trace: model.safetensors, layer: all}");
  text.replace(text.find("  page_size: 32"), 15, "  logical_page_size: 16\n  reuse_interval: 2");
  text += "  mode: [dynamic, static+dynamic]\n  page_size: [16, 32]\n";
  const SweepConfig sweep = load(text);
  ASSERT_EQ(sweep.axes.size(), 4u);
  EXPECT_EQ(sweep.axes[0].key, "layer");
  EXPECT_EQ(sweep.axes[0].values, (std::vector<std::string>{"0", "2", "5"}));
  EXPECT_EQ(sweep.axes[1].values, (std::vector<std::string>{"64", "128"}));
  EXPECT_EQ(sweep.axes[2].values, (std::vector<std::string>{"dynamic", "static+dynamic"}));
  EXPECT_EQ(sweep.axes[3].values, (std::vector<std::string>{"16", "32"}));
  EXPECT_EQ(sweep.base.logical_page_size, 16);
  EXPECT_EQ(sweep.base.reuse_interval, 2);

  std::string one_layer = with_line(3, "workload: {trace: model.safetensors, layer: 2}");
  one_layer.replace(one_layer.find("  page_size: 32"), 15,
                    "  page_size: 32\n  logical_page_size: 16\n  reuse_interval: 3");
  const SweepConfig fixed = load(one_layer);
  EXPECT_EQ(fixed.base.workload.trace_layer, 2);
  EXPECT_EQ(fixed.base.page_size, 32);
  EXPECT_EQ(fixed.base.logical_page_size, 16);
  EXPECT_EQ(fixed.base.reuse_interval, 3);
}

TEST_F(TraceSweepTest, LayerErrors) {
  expect_contains(error_at(with_line(7, "  layer: 3"), 7, "fixed.layer"),
                  {"holds layers [0, 2, 5], not layer 3"});
  expect_contains(error_at(with_line(9, "  layer: [0, 4]"), 9, "axes.layer"), {"not layer 4"});
  std::string twice = with_line(3, "workload: {trace: model.safetensors, layer: 2}");
  twice.replace(twice.find("  page_size: 32"), 15, "  layer: 0");
  expect_contains(error_at(twice, 3, "workload.layer"), {"set it in one place"});
}

TEST_F(TraceSweepTest, SyntheticWorkloadsHaveNoLayersAndInterleavedHeads) {
  std::string synthetic = with_line(3, "workload: needle");
  synthetic.replace(synthetic.find("  page_size: 32"), 15, "  layer: 1");
  expect_contains(error_at(synthetic, 7, "fixed.layer"), {"applies to trace workloads"});
  std::string heads = with_line(3, "workload: needle");
  heads.replace(heads.find("  page_size: 32"), 15, "  head_selection: random");
  expect_contains(error_at(heads, 7, "fixed.head_selection"),
                  {"head_selection random applies to trace workloads"});
  const SweepConfig sweep = load(with_line(3, "workload: needle"));
  EXPECT_EQ(sweep.base.workload.trace_overrides, "");
  EXPECT_EQ(sweep.base.context_len, 4096);
}

TEST_F(TraceSweepTest, CalibratedHeadsNeedACalibrationThatLoads) {
  expect_contains(error_at(with_line(7, "  head_selection: calibrated"), 7, "fixed.head_selection"),
                  {"needs a head_calibration"});
  expect_contains(error_at(with_line(9, "  head_selection: [random, calibrated_inverted]"), 9,
                           "axes.head_selection"),
                  {"head_selection calibrated_inverted needs a head_calibration"});
  expect_contains(
      error_at(with_line(7, "  head_selection: calibrated\n  head_calibration: no_such_calibration"),
               8, "fixed.head_calibration"),
      {"unknown head calibration 'no_such_calibration'"});

  // A DuoAttention file next to the sweep, recorded by its resolved path.
  dir_.write("duo/gates.tsv", "0.1\t0.9\n0.8\t0.2\n0.5\t0.5\n");
  const SweepConfig sweep = load(with_line(
      7, "  head_selection: calibrated\n  head_calibration: duo/gates.tsv\n  layer: 2"));
  const std::string resolved = std::filesystem::path(dir_.path() + "/duo/gates.tsv").lexically_normal();
  EXPECT_EQ(sweep.base.head_calibration, resolved);
  ASSERT_NE(sweep.head_calibration(resolved), nullptr);
  EXPECT_EQ(sweep.head_calibration(resolved)->metric, "gate");
  EXPECT_EQ(sweep.head_calibration(""), nullptr);
  dir_.write("duo/bad.tsv", "0.1\t2\n");
  expect_contains(input_error_of([&] {
                    load(with_line(7, "  head_selection: calibrated\n  head_calibration: duo/bad.tsv"));
                  }),
                  {"bad.tsv:1:", "in [0, 1]"});
}

TEST_F(TraceSweepTest, RelativeTracePathsAlsoResolveAgainstTheRepository) {
  // A scratch repository: configs/ (the tiny model), traces/, and a sweep in sweeps/.
  ScratchDir repo;
  std::filesystem::create_directories(repo.path() + "/configs/models");
  std::filesystem::copy_file(repo_configs_dir() + "/models/tiny.yaml",
                             repo.path() + "/configs/models/tiny.yaml");
  std::filesystem::create_directories(repo.path() + "/traces");
  testing::write_tiny_trace(repo.path() + "/traces/t.safetensors");
  const std::string sweep_file = repo.write(
      "sweeps/s.yaml", with_line(3, "workload: {trace: traces/t.safetensors, layer: 0}"));
  const SweepConfig sweep = load_sweep(sweep_file, {}, repo.path() + "/configs");
  EXPECT_TRUE(std::filesystem::equivalent(sweep.base.workload.trace_path,
                                          repo.path() + "/traces/t.safetensors"));
  const std::string missing = repo.write(
      "sweeps/m.yaml", with_line(3, "workload: {trace: traces/none.safetensors}"));
  expect_contains(input_error_of([&] { load_sweep(missing, {}, repo.path() + "/configs"); }),
                  {"m.yaml:3:", "trace file not found: traces/none.safetensors", "tried"});
}

TEST_F(TraceSweepTest, AMisShapedTraceIsAnErrorAtLoad) {
  testing::TinyTrace spec;
  testing::write_tiny_trace(dir_.path() + "/model.safetensors", spec);
  std::string llama = kTraceSweep;
  llama.replace(llama.find("model: tiny"), 11, "model: llama3-8b");
  expect_contains(input_error_of([&] { load(llama); }),
                  {"model.safetensors", "does not match model 'llama3-8b'"});
}

}  // namespace
}  // namespace unisparse
