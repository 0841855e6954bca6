// Head calibration files: the YAML form written by calibrate-heads and DuoAttention's .tsv, read
// strictly (file, line and key in every error) and written back to the same layouts.
#include "framework/config/head_calibration_file.h"

#include <gtest/gtest.h>

#include "framework/config/value_text.h"
#include "framework/workload/head_selection.h"
#include "tests/config/yaml_test_files.h"

namespace unisparse {
namespace {

using testing::expect_contains;
using testing::input_error_of;
using testing::ScratchDir;

// Line numbers below refer to this text.
const std::string kCalibration =
    "name: cal\n"                                                                       // 1
    "model: tiny\n"                                                                     // 2
    "metric: out_rel_l2\n"                                                              // 3
    "sink_tokens: 16\n"                                                                 // 4
    "local_tokens: 32\n"                                                                // 5
    "date: 2026-12-02\n"                                                                // 6
    "traces:\n"                                                                         // 7
    "  - {path: traces/a.safetensors, prompt_kind: passkey, tokens: 300, decode_steps: 6}\n"  // 8
    "scores:\n"                                                                         // 9
    "  - {layer: 1, out_rel_l2: [0.5, 0.04], outside_mass: [0.4, 0.01]}\n"              // 10
    "  - {layer: 0, out_rel_l2: [0.01, 0.9], outside_mass: [0.02, 0.8]}\n";             // 11

std::string with_line(int line, const std::string& text) {
  std::string result;
  size_t start = 0;
  for (int current = 1; start < kCalibration.size(); ++current) {
    const size_t end = kCalibration.find('\n', start) + 1;
    result += current == line ? text + "\n" : kCalibration.substr(start, end - start);
    start = end;
  }
  return result;
}

class HeadCalibrationFileTest : public ::testing::Test {
 protected:
  std::string write(const std::string& text, const std::string& name = "cal.yaml") {
    return dir_.write("heads/" + name, text);
  }
  std::string error_at(const std::string& text, int line, const std::string& key) {
    const std::string path = write(text);
    const std::string message = input_error_of([&] { load_head_calibration_file(path); });
    expect_contains(message, {path + ":" + std::to_string(line) + ":", "key '" + key + "'"});
    return message;
  }
  ScratchDir dir_;
};

TEST_F(HeadCalibrationFileTest, ReadsEveryField) {
  const HeadCalibration calibration = load_head_calibration_file(write(kCalibration));
  EXPECT_EQ(calibration.name, "cal");
  EXPECT_EQ(calibration.model, "tiny");
  EXPECT_EQ(calibration.metric, "out_rel_l2");
  EXPECT_EQ(calibration.sink_tokens, 16);
  EXPECT_EQ(calibration.local_tokens, 32);
  EXPECT_EQ(calibration.date, "2026-12-02");
  ASSERT_EQ(calibration.traces.size(), 1u);
  EXPECT_EQ(calibration.traces[0].prompt_kind, "passkey");
  EXPECT_EQ(calibration.traces[0].tokens, 300);
  EXPECT_EQ(calibration.layers, (std::vector<int>{0, 1}));  // sorted by layer
  EXPECT_EQ(calibration.num_kv_heads(), 2);
  EXPECT_EQ(calibration.ranking()[0], (std::vector<double>{0.01, 0.9}));
  EXPECT_EQ(calibration.scores.at("outside_mass")[1], (std::vector<double>{0.4, 0.01}));
}

TEST_F(HeadCalibrationFileTest, WritesWhatItReads) {
  const HeadCalibration original = load_head_calibration_file(write(kCalibration));
  const std::string copy = dir_.path() + "/heads/copy.yaml";
  HeadCalibration renamed = original;
  renamed.name = "copy";
  write_head_calibration_file(copy, renamed);
  const HeadCalibration read = load_head_calibration_file(copy);
  EXPECT_EQ(read.layers, original.layers);
  EXPECT_EQ(read.scores, original.scores);
  EXPECT_EQ(read.metric, original.metric);
  EXPECT_EQ(read.traces[0].path, original.traces[0].path);
  EXPECT_EQ(read.traces[0].decode_steps, 6);
}

TEST_F(HeadCalibrationFileTest, StrictErrors) {
  expect_contains(error_at(with_line(2, "modle: tiny"), 2, "modle"), {"unknown key", "model"});
  expect_contains(error_at(with_line(3, "metric: mass"), 3, "metric"), {"not a score"});
  expect_contains(error_at(with_line(1, "name: other"), 1, "name"), {"does not match"});
  expect_contains(
      error_at(with_line(10, "  - {layer: 1, out_rel_l2: [0.5, 0.04, 0.2], outside_mass: [0.4, 0.01]}"),
               10, "scores[0].outside_mass"),
      {"2 KV heads, but layer 1 out_rel_l2 lists 3"});
  expect_contains(error_at(with_line(11, "  - {layer: 1, out_rel_l2: [0.01, 0.9], outside_mass: [0, 0]}"),
                           11, "scores[1].layer"),
                  {"listed twice"});
  expect_contains(error_at(with_line(11, "  - {layer: 0, out_rel_l2: [-0.01, 0.9], outside_mass: [0, 0]}"),
                           11, "scores[1].out_rel_l2[0]"),
                  {">= 0"});
  expect_contains(error_at(with_line(11, "  - {layer: 0, out_rel_l2: [0.01, 0.9]}"), 10, "scores"),
                  {"outside_mass", "missing for some layers"});
  expect_contains(error_at(with_line(8, "  - {prompt_kind: passkey}"), 8, "traces[0]"),
                  {"needs a 'path'"});
  expect_contains(error_at(with_line(5, "local_tokens: 0"), 5, "local_tokens"), {">= 1"});
  const std::string no_metric = with_line(3, "description: no metric");
  const std::string path = write(no_metric);
  expect_contains(input_error_of([&] { load_head_calibration_file(path); }),
                  {"key 'metric'", "missing key"});
}

TEST_F(HeadCalibrationFileTest, DuoAttentionGatesReadAsCostsAndWriteBack) {
  const std::string tsv = dir_.write("full_attention_heads.tsv", "0.9\t0.1\t0.5\n0.2\t1\t0.0\t\n");
  const HeadCalibration gates = read_duo_attention_tsv(tsv);
  EXPECT_EQ(gates.name, "full_attention_heads");
  EXPECT_EQ(gates.metric, "gate");
  EXPECT_EQ(gates.layers, (std::vector<int>{0, 1}));
  EXPECT_EQ(gates.ranking()[1], (std::vector<double>{0.2, 1.0, 0.0}));
  // The lowest gates become streaming, as LServe binarises DuoAttention's pattern.
  HeadSelectionRequest request;
  request.selection = HeadSelection::calibrated;
  request.num_kv_heads = 3;
  request.streaming_fraction = 0.5;
  request.calibration = &gates;
  request.layer = 0;
  EXPECT_EQ(head_layout_text(select_head_layout(request)), "dsd");
  request.layer = 1;
  EXPECT_EQ(head_layout_text(select_head_layout(request)), "sds");

  // Costs written as gates keep every layout: the same global quantile, whatever the fraction.
  const HeadCalibration costs = load_head_calibration_file(write(kCalibration));
  const std::string written = dir_.path() + "/written.tsv";
  write_duo_attention_tsv(written, costs);
  const HeadCalibration back = read_duo_attention_tsv(written);
  for (double fraction : {0.25, 0.5, 0.75})
    for (int layer : {0, 1}) {
      request.num_kv_heads = 2;
      request.streaming_fraction = fraction;
      request.layer = layer;
      request.calibration = &costs;
      const std::string from_costs = head_layout_text(select_head_layout(request));
      request.calibration = &back;
      EXPECT_EQ(head_layout_text(select_head_layout(request)), from_costs) << fraction << " " << layer;
    }
  for (const auto& row : back.ranking())
    for (double gate : row) EXPECT_TRUE(gate >= 0.0 && gate <= 1.0);
}

TEST_F(HeadCalibrationFileTest, DuoAttentionErrorsNameTheLine) {
  auto error_of = [&](const std::string& text) {
    const std::string path = dir_.write("bad.tsv", text);
    return input_error_of([&] { read_duo_attention_tsv(path); });
  };
  expect_contains(error_of("0.5\t0.5\n0.5\t1.5\n"), {"bad.tsv:2:", "layer 1", "in [0, 1]"});
  expect_contains(error_of("0.5\t0.5\n0.5\n"), {"bad.tsv:2:", "1 gate values", "line 1 has 2"});
  expect_contains(error_of("0.5\tx\n"), {"bad.tsv:1:", "layer 0"});
  expect_contains(error_of("0.5\n\n0.5\n"), {"bad.tsv:2:", "blank line"});
  expect_contains(error_of(""), {"bad.tsv", "no layers"});
  HeadCalibration gapped = load_head_calibration_file(write(kCalibration));
  gapped.layers = {0, 2};
  expect_contains(input_error_of([&] { write_duo_attention_tsv(dir_.path() + "/g.tsv", gapped); }),
                  {"every layer from 0"});
}

TEST_F(HeadCalibrationFileTest, ReferencesResolveToFiles) {
  write(kCalibration);
  const std::string configs = dir_.path();  // holds heads/
  EXPECT_EQ(head_calibration_path("cal", configs, {}), dir_.path() + "/heads/cal.yaml");
  try {
    head_calibration_path("cla", configs, {});
    FAIL() << "expected a ParamValueError";
  } catch (const ParamValueError& e) {
    expect_contains(e.what(), {"unknown head calibration 'cla'", "did you mean 'cal'"});
  }
  const std::string tsv = dir_.write("duo/full.tsv", "1\t0\n");
  EXPECT_EQ(head_calibration_path("duo/full.tsv", configs, {"/nonexistent", dir_.path()}), tsv);
  EXPECT_THROW(head_calibration_path("duo/none.tsv", configs, {dir_.path()}), ParamValueError);
  EXPECT_EQ(load_head_calibration(tsv).metric, "gate");
  EXPECT_EQ(load_head_calibration(dir_.path() + "/heads/cal.yaml").metric, "out_rel_l2");
}

}  // namespace
}  // namespace unisparse
