// load_sweep: the typed result, every error path (file, line and dotted key in the message),
// command-line overrides and the resolved YAML.
#include "framework/config/sweep_config.h"

#include <gtest/gtest.h>

#include <regex>

#include "framework/config/params.h"
#include "framework/core/size_limits.h"
#include "tests/common/tiny_trace.h"
#include "tests/config/yaml_test_files.h"

namespace unisparse {
namespace {

using testing::expect_contains;
using testing::input_error_of;
using testing::repo_configs_dir;
using testing::ScratchDir;

// Line numbers below refer to this text.
const std::string kValidSweep =
    "name: small\n"                                       // 1
    "model: tiny\n"                                       // 2
    "workload: needle\n"                                  // 3
    "phase: decode\n"                                     // 4
    "backends: [cpu]\n"                                   // 5
    "fixed:\n"                                            // 6
    "  context_len: 1000\n"                               // 7
    "  page_size: 32\n"                                   // 8
    "axes:\n"                                             // 9
    "  token_budget: [64, 128, 256]\n"                    // 10
    "  reuse_interval: [1, 4]\n"                          // 11
    "timing: {warmup: 0, min_iters: 1, max_iters: 2}\n";  // 12

// kValidSweep with line `line` (1-based) replaced by `text` (which may hold several lines).
std::string with_line(int line, const std::string& text) {
  std::string result;
  size_t start = 0;
  for (int current = 1; start < kValidSweep.size(); ++current) {
    const size_t end = kValidSweep.find('\n', start) + 1;
    result += current == line ? text + "\n" : kValidSweep.substr(start, end - start);
    start = end;
  }
  return result;
}

class SweepConfigTest : public ::testing::Test {
 protected:
  SweepConfig load(const std::string& text, const std::vector<Override>& overrides = {}) {
    return load_sweep(dir_.write("sweep.yaml", text), overrides, repo_configs_dir());
  }
  // The error of loading text, checked to name this file at `line` and `key`.
  std::string error_at(const std::string& text, int line, const std::string& key) {
    const std::string path = dir_.path() + "/sweep.yaml";
    const std::string message = input_error_of([&] { load(text); });
    expect_contains(message, {path + ":" + std::to_string(line) + ":", "key '" + key + "'"});
    return message;
  }
  std::string override_error(const std::vector<Override>& overrides, const std::string& key) {
    const std::string message = input_error_of([&] { load(kValidSweep, overrides); });
    expect_contains(message, {"<command line>", "key '" + key + "'"});
    return message;
  }

  ScratchDir dir_;
};

TEST_F(SweepConfigTest, LoadsTypedValues) {
  const SweepConfig sweep = load(kValidSweep);
  EXPECT_EQ(sweep.name, "small");
  EXPECT_EQ(sweep.base.sweep, "small");
  EXPECT_EQ(sweep.backends, std::vector<std::string>{"cpu"});
  EXPECT_EQ(sweep.base.model, "tiny");
  EXPECT_EQ(sweep.base.shape.num_q_heads, 4);
  EXPECT_EQ(sweep.base.shape.num_kv_heads, 2);
  EXPECT_EQ(sweep.base.shape.head_dim, 64);
  EXPECT_EQ(sweep.base.workload.name, "needle");
  EXPECT_TRUE(sweep.base.workload.trace_path.empty());
  EXPECT_EQ(sweep.base.phase, Phase::decode);
  EXPECT_EQ(sweep.base.context_len, 1000);
  EXPECT_EQ(sweep.base.page_size, 32);
  EXPECT_EQ(sweep.base.timing.warmup, 0);
  EXPECT_EQ(sweep.base.timing.max_iters, 2);
  ASSERT_EQ(sweep.axes.size(), 2u);
  EXPECT_EQ(sweep.axes[0].key, "token_budget");
  EXPECT_EQ(sweep.axes[0].values, (std::vector<std::string>{"64", "128", "256"}));
  EXPECT_EQ(sweep.axes[1].key, "reuse_interval");
}

TEST_F(SweepConfigTest, WorkloadKnobsComeFromTheWorkloadFileThenFixed) {
  SweepConfig sweep = load(with_line(3, "workload: topical"));
  EXPECT_TRUE(sweep.base.workload.knobs.needle_depths.empty());
  EXPECT_DOUBLE_EQ(sweep.base.workload.knobs.topic_strength, 6.0);
  sweep = load(with_line(8, "  workload.topic_strength: 1.5\n  workload.needle_depths: [0.5]"));
  EXPECT_DOUBLE_EQ(sweep.base.workload.knobs.topic_strength, 1.5);
  EXPECT_EQ(sweep.base.workload.knobs.needle_depths, std::vector<double>{0.5});
}

TEST_F(SweepConfigTest, UnknownTopLevelKey) {
  const std::string message = error_at(with_line(6, "colour: red\nfixed:"), 6, "colour");
  expect_contains(message, {"unknown key", "known keys:"});
}

TEST_F(SweepConfigTest, MisspelledTopLevelKeySuggestsTheKnownOne) {
  const std::string message = error_at(with_line(1, "name: small\ndescripton: x"), 2, "descripton");
  expect_contains(message, {"did you mean 'description'?"});
}

TEST_F(SweepConfigTest, UnknownFixedKeySuggestsTheClosest) {
  const std::string message = error_at(with_line(8, "  page_sise: 32"), 8, "fixed.page_sise");
  expect_contains(message, {"did you mean 'page_size'?"});
}

TEST_F(SweepConfigTest, KnobWithoutItsPrefixSuggestsThePrefixedKey) {
  const std::string message =
      error_at(with_line(8, "  needle_strength: 3"), 8, "fixed.needle_strength");
  expect_contains(message, {"did you mean 'workload.needle_strength'?"});
}

TEST_F(SweepConfigTest, UnknownAxisKey) {
  const std::string message =
      error_at(with_line(11, "  reuse_intervals: [1, 4]"), 11, "axes.reuse_intervals");
  expect_contains(message, {"did you mean 'reuse_interval'?"});
  error_at(with_line(11, "  colour: [red]"), 11, "axes.colour");
}

TEST_F(SweepConfigTest, UnknownTimingKey) {
  error_at(with_line(12, "timing: {warmup: 0, min_iter: 1}"), 12, "timing.min_iter");
}

TEST_F(SweepConfigTest, DuplicateKey) {
  const std::string message =
      error_at(with_line(8, "  page_size: 32\n  page_size: 64"), 9, "fixed.page_size");
  expect_contains(message, {"duplicate key"});
}

TEST_F(SweepConfigTest, WrongTypes) {
  expect_contains(error_at(with_line(7, "  context_len: abc"), 7, "fixed.context_len"),
                  {"expected an integer, got 'abc'"});
  expect_contains(error_at(with_line(7, "  context_len: [1, 2]"), 7, "fixed.context_len"),
                  {"expected an integer, got a list"});
  expect_contains(error_at(with_line(7, "  context_len: \"1000\""), 7, "fixed.context_len"),
                  {"got the string \"1000\""});
  expect_contains(error_at(with_line(8, "  page_size: 32.5"), 8, "fixed.page_size"),
                  {"expected an integer"});
  expect_contains(
      error_at(with_line(8, "  streaming_fraction: {a: 1}"), 8, "fixed.streaming_fraction"),
      {"got a mapping"});
  expect_contains(
      error_at(with_line(8, "  workload.needle_depths: 0.5"), 8, "fixed.workload.needle_depths"),
      {"expected a list of numbers"});
  expect_contains(error_at(with_line(12, "timing: {l2_flush: maybe}"), 12, "timing.l2_flush"),
                  {"expected true or false"});
  expect_contains(error_at(with_line(12, "timing: [warmup]"), 12, "timing"),
                  {"expected a mapping"});
  expect_contains(error_at(with_line(10, "  token_budget: 64"), 10, "axes.token_budget"),
                  {"expected a non-empty list"});
  error_at(with_line(1, "name: [a, b]"), 1, "name");
  expect_contains(error_at(with_line(8, "  page_size:"), 8, "fixed.page_size"),
                  {"expected an integer, got nothing"});
}

TEST_F(SweepConfigTest, EmptySectionsAreAllowed) {
  const SweepConfig sweep = load(
      "name: s\nmodel: tiny\nworkload: needle\nphase: prefill\nbackends: [cpu]\n"
      "fixed:\naxes:\ntiming:\n");
  EXPECT_TRUE(sweep.axes.empty());
  EXPECT_EQ(sweep.base.phase, Phase::prefill);
  const PointConfig defaults;
  EXPECT_EQ(sweep.base.context_len, defaults.context_len);
}

TEST_F(SweepConfigTest, OutOfRangeValues) {
  expect_contains(error_at(with_line(7, "  context_len: -5"), 7, "fixed.context_len"),
                  {"must be in [1, " + std::to_string(kMaxSequenceTokens) + "], got -5"});
  expect_contains(error_at(with_line(8, "  page_size: 48"), 8, "fixed.page_size"),
                  {"power of two"});
  error_at(with_line(8, "  page_size: 0"), 8, "fixed.page_size");
  error_at(with_line(8, "  logical_page_size: 12"), 8, "fixed.logical_page_size");
  error_at(with_line(8, "  reuse_interval: 0"), 8, "fixed.reuse_interval");
  expect_contains(
      error_at(with_line(8, "  streaming_fraction: 1.5"), 8, "fixed.streaming_fraction"),
      {"in [0.0, 1.0]"});
  error_at(with_line(8, "  workload.needle_depths: [0.5, 1.25]"), 8,
           "fixed.workload.needle_depths");
  expect_contains(error_at(with_line(8, "  workload.needle_depths:\n    - 0.5\n    - 0.25, 0.75"),
                           10, "fixed.workload.needle_depths"),
                  {"expected a number, got '0.25, 0.75'"});
  error_at(with_line(8, "  batch: 99999999999"), 8, "fixed.batch");
  error_at(with_line(8, "  seed: -1"), 8, "fixed.seed");
  expect_contains(
      error_at(with_line(10, "  token_budget: [64, 128, -1]"), 10, "axes.token_budget[2]"),
      {"must be >= 1"});
}

TEST_F(SweepConfigTest, MaxItersBelowMinItersIsAnError) {
  expect_contains(
      error_at(with_line(12, "timing: {min_iters: 5, max_iters: 2}"), 12, "timing.max_iters"),
      {"timing.max_iters 2 < timing.min_iters 5"});
}

TEST_F(SweepConfigTest, UnknownEnumNames) {
  expect_contains(error_at(with_line(8, "  gqa_selection: foo"), 8, "fixed.gqa_selection"),
                  {"unknown value 'foo'", "per_query_head | kv_head_max | kv_head_sum"});
  expect_contains(error_at(with_line(8, "  gqa_selection: kv_head_mx"), 8, "fixed.gqa_selection"),
                  {"did you mean 'kv_head_max'?"});
  error_at(with_line(8, "  mode: sparse"), 8, "fixed.mode");
  expect_contains(error_at(with_line(8, "  dtype: int8"), 8, "fixed.dtype"),
                  {"fp16 | bf16 | fp32"});
  error_at(with_line(4, "phase: decoding"), 4, "phase");
  expect_contains(error_at(with_line(5, "backends: [cpu, gpu]"), 5, "backends[1]"),
                  {"unknown backend 'gpu'"});
  error_at(with_line(5, "backends: [cpu, cpu]"), 5, "backends[1]");
  error_at(with_line(5, "backends: []"), 5, "backends");
}

TEST_F(SweepConfigTest, CacheFillParsesFromFixedAxesAndOverrides) {
  EXPECT_EQ(load(kValidSweep).base.cache_fill, CacheFill::upload);  // the default
  EXPECT_EQ(load(with_line(8, "  cache_fill: prefill")).base.cache_fill, CacheFill::prefill);
  const SweepConfig swept = load(with_line(11, "  cache_fill: [upload, prefill]"));
  ASSERT_EQ(swept.axes.size(), 2u);
  EXPECT_EQ(swept.axes[1].key, "cache_fill");
  EXPECT_EQ(swept.axes[1].values, (std::vector<std::string>{"upload", "prefill"}));
  EXPECT_EQ(load(kValidSweep, {{Override::fixed, "cache_fill=prefill"}}).base.cache_fill,
            CacheFill::prefill);
  const SweepConfig overridden = load(kValidSweep, {{Override::axis, "cache_fill=[prefill]"}});
  EXPECT_EQ(overridden.axes.back().key, "cache_fill");
  // The resolved config carries the value, so the run directory's config.yaml reloads to it.
  EXPECT_NE(load(with_line(8, "  cache_fill: prefill")).resolved_yaml.find("cache_fill: prefill"),
            std::string::npos);
}

TEST_F(SweepConfigTest, BadCacheFillIsAnErrorNamingFileLineAndKey) {
  expect_contains(error_at(with_line(8, "  cache_fill: device"), 8, "fixed.cache_fill"),
                  {"unknown value 'device'", "expected one of: upload | prefill"});
  expect_contains(error_at(with_line(8, "  cache_fill: prefil"), 8, "fixed.cache_fill"),
                  {"did you mean 'prefill'?"});
  expect_contains(error_at(with_line(8, "  cache_fill: 1"), 8, "fixed.cache_fill"),
                  {"unknown value '1'"});
  error_at(with_line(11, "  cache_fill: [upload, uplaod]"), 11, "axes.cache_fill[1]");
  expect_contains(override_error({{Override::fixed, "cache_fill=host"}}, "cache_fill"),
                  {"unknown value 'host'"});
  override_error({{Override::axis, "cache_fill=[prefill, gpu]"}}, "cache_fill[1]");
}

TEST_F(SweepConfigTest, UnknownModelAndWorkloadNames) {
  expect_contains(error_at(with_line(2, "model: llama3-9b"), 2, "model"),
                  {"unknown model 'llama3-9b'", "did you mean 'llama3-8b'?", "tiny"});
  expect_contains(error_at(with_line(3, "workload: needles"), 3, "workload"),
                  {"unknown workload 'needles'", "did you mean 'needle'?"});
}

TEST_F(SweepConfigTest, MissingRequiredKey) {
  expect_contains(error_at(with_line(4, ""), 1, "phase"), {"missing key"});
}

TEST_F(SweepConfigTest, InvalidSweepName) { error_at(with_line(1, "name: ../escape"), 1, "name"); }

TEST_F(SweepConfigTest, DuplicateAxisValue) {
  expect_contains(
      error_at(with_line(10, "  token_budget: [64, 128, 64]"), 10, "axes.token_budget[2]"),
      {"listed twice"});
}

TEST_F(SweepConfigTest, SyntaxErrorNamesTheLine) {
  const std::string message =
      input_error_of([&] { load(with_line(10, "  token_budget: [64, 128")); });
  expect_contains(message, {dir_.path() + "/sweep.yaml:", "YAML syntax error"});
}

TEST_F(SweepConfigTest, MissingFileIsAnInputError) {
  const std::string message =
      input_error_of([&] { load_sweep(dir_.path() + "/absent.yaml", {}, repo_configs_dir()); });
  expect_contains(message, {"absent.yaml", "cannot open"});
}

TEST_F(SweepConfigTest, TraceReference) {
  const std::string message = error_at(
      with_line(3, "workload: {trace: traces/missing.safetensors, layer: 0}"), 3, "workload.trace");
  expect_contains(message, {"trace file not found", "missing.safetensors"});
  error_at(with_line(3, "workload: {trace: t.safetensors, layr: 0}"), 3, "workload.layr");
  error_at(with_line(3, "workload: {layer: 0}"), 3, "workload");

  testing::TinyTrace spec;
  spec.layers = {3};
  spec.context_len = 1000;  // the sweep's context_len
  spec.decode_steps = 16;
  dir_.write("traces/.keep", "");
  testing::write_tiny_trace(dir_.path() + "/traces/llama.safetensors", spec);
  testing::write_tiny_trace(dir_.path() + "/t.safetensors", spec);
  error_at(with_line(3, "workload: {trace: t.safetensors, layer: -1}"), 3, "workload.layer");
  const SweepConfig sweep =
      load(with_line(3, "workload: {trace: traces/llama.safetensors, layer: 3}"));
  EXPECT_EQ(sweep.base.workload.name, "llama");
  EXPECT_EQ(sweep.base.workload.trace_layer, 3);
  EXPECT_TRUE(std::filesystem::path(sweep.base.workload.trace_path).is_absolute());
  EXPECT_TRUE(std::filesystem::equivalent(sweep.base.workload.trace_path,
                                          dir_.path() + "/traces/llama.safetensors"));
}

TEST_F(SweepConfigTest, AxisOverrideReplacesInPlaceOrAppends) {
  const SweepConfig sweep = load(kValidSweep, {{Override::axis, "token_budget=[512, 1024]"},
                                               {Override::axis, "axes.seed=[1, 2, 3]"}});
  ASSERT_EQ(sweep.axes.size(), 3u);
  EXPECT_EQ(sweep.axes[0].key, "token_budget");
  EXPECT_EQ(sweep.axes[0].values, (std::vector<std::string>{"512", "1024"}));
  EXPECT_EQ(sweep.axes[1].key, "reuse_interval");
  EXPECT_EQ(sweep.axes[2].key, "seed");
  EXPECT_EQ(sweep.axes[2].values.size(), 3u);
}

TEST_F(SweepConfigTest, FixedOverrides) {
  const SweepConfig sweep = load(kValidSweep, {{Override::fixed, "batch=4"},
                                               {Override::fixed, "fixed.page_size=64"},
                                               {Override::fixed, "timing.warmup=5"},
                                               {Override::fixed, "reuse_interval=2"},
                                               {Override::fixed, "model=llama2-7b"},
                                               {Override::fixed, "workload=diffuse"},
                                               {Override::fixed, "phase=prefill"},
                                               {Override::fixed, "backends=[cuda, cpu]"}});
  EXPECT_EQ(sweep.base.batch, 4);
  EXPECT_EQ(sweep.base.page_size, 64);
  EXPECT_EQ(sweep.base.timing.warmup, 5);
  EXPECT_EQ(sweep.base.reuse_interval, 2);
  EXPECT_EQ(sweep.base.shape.num_kv_heads, 32);
  EXPECT_EQ(sweep.base.workload.name, "diffuse");
  EXPECT_EQ(sweep.base.phase, Phase::prefill);
  EXPECT_EQ(sweep.backends, (std::vector<std::string>{"cuda", "cpu"}));
  // Fixing a parameter that was an axis removes the axis.
  ASSERT_EQ(sweep.axes.size(), 1u);
  EXPECT_EQ(sweep.axes[0].key, "token_budget");
}

TEST_F(SweepConfigTest, FixedOverrideBeatsTheModelWhateverItsOrder) {
  const SweepConfig sweep =
      load(kValidSweep, {{Override::fixed, "num_q_heads=8"}, {Override::fixed, "model=llama2-7b"}});
  EXPECT_EQ(sweep.base.model, "llama2-7b");
  EXPECT_EQ(sweep.base.shape.num_q_heads, 8);
  EXPECT_EQ(sweep.base.shape.num_kv_heads, 32);
}

TEST_F(SweepConfigTest, BadOverrides) {
  expect_contains(override_error({{Override::fixed, "page_sise=3"}}, "page_sise"),
                  {"did you mean 'page_size'?", "--set page_sise=3"});
  expect_contains(override_error({{Override::fixed, "page_size=abc"}}, "page_size"),
                  {"expected an integer", "--set page_size=abc"});
  expect_contains(override_error({{Override::axis, "token_budget=[64, x]"}}, "token_budget[1]"),
                  {"-a token_budget=[64, x]"});
  expect_contains(override_error({{Override::axis, "tokn_budget=[64]"}}, "tokn_budget"),
                  {"did you mean 'token_budget'?"});
  expect_contains(override_error({{Override::axis, "token_budget=64"}}, "token_budget"),
                  {"expected a non-empty list"});
  override_error({{Override::fixed, "model=llama9"}}, "model");
  override_error({{Override::fixed, "workload={trace: /nonexistent/x.safetensors}"}},
                 "workload.trace");
  override_error({{Override::fixed, "timing.max_iters=0"}}, "timing.max_iters");
  expect_contains(input_error_of([&] {
                    load(kValidSweep, {{Override::fixed, "batch"}});
                  }),
                  {"<command line>", "expected key=value"});
  expect_contains(input_error_of([&] {
                    load(kValidSweep, {{Override::axis, "page_size=[16,"}});
                  }),
                  {"<command line>", "YAML syntax error"});
}

TEST_F(SweepConfigTest, ResolvedYamlLoadsBackToTheSameSweep) {
  const SweepConfig sweep =
      load(kValidSweep, {{Override::fixed, "batch=3"},
                         {Override::axis, "workload.needle_depths=[[0.5], [0.125, 0.75]]"},
                         {Override::fixed, "workload.sink_strength=0.1"}});
  const std::string resolved_path = dir_.write("resolved.yaml", sweep.resolved_yaml);
  const SweepConfig again = load_sweep(resolved_path, {}, repo_configs_dir());
  EXPECT_EQ(again.name, sweep.name);
  EXPECT_EQ(again.backends, sweep.backends);
  EXPECT_EQ(describe(again.base), describe(sweep.base));
  ASSERT_EQ(again.axes.size(), sweep.axes.size());
  for (size_t a = 0; a < sweep.axes.size(); ++a) {
    EXPECT_EQ(again.axes[a].key, sweep.axes[a].key);
    EXPECT_EQ(again.axes[a].values, sweep.axes[a].values);
  }
  EXPECT_EQ(again.resolved_yaml, sweep.resolved_yaml);
}

}  // namespace
}  // namespace unisparse
