#include "framework/workload/head_selection.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace unisparse {
namespace {

HeadSelectionRequest request_for(HeadSelection selection, int layer, double fraction) {
  HeadSelectionRequest request;
  request.selection = selection;
  request.layer = layer;
  request.num_kv_heads = 3;
  request.streaming_fraction = fraction;
  request.sink_tokens = 8;
  request.local_tokens = 32;
  request.model_layers = {0, 1, 2, 3};
  return request;
}

// Costs of 4 layers x 3 KV heads: layer 0 is cheap everywhere, layer 3 costly everywhere.
HeadCalibration four_layer_calibration() {
  HeadCalibration calibration;
  calibration.name = "test";
  calibration.metric = kOutRelL2Score;
  calibration.layers = {0, 1, 2, 3};
  calibration.scores[kOutRelL2Score] = {
      {0.01, 0.02, 0.03}, {0.5, 0.04, 0.6}, {0.05, 0.7, 0.8}, {0.9, 1.0, 1.1}};
  return calibration;
}

TEST(HeadSelection, NamesReadBack) {
  for (const auto& [value, name] : kHeadSelectionNames) {
    HeadSelection parsed{};
    ASSERT_TRUE(parse(name, parsed));
    EXPECT_EQ(parsed, value);
    EXPECT_EQ(to_string(value), name);
  }
  HeadSelection unused{};
  EXPECT_FALSE(parse("calibrate", unused));
}

TEST(HeadSelection, InterleavedIsTheGeneratorsLayoutOnEveryLayer) {
  for (int layer : {0, 3}) {
    const HeadLayout layout = select_head_layout(request_for(HeadSelection::interleaved, layer, 0.34));
    EXPECT_EQ(layout.kv_head_kind, HeadLayout::with_streaming_fraction(3, 0.34, 8, 32).kv_head_kind);
    EXPECT_EQ(layout.sink_tokens, 8);
    EXPECT_EQ(layout.local_tokens, 32);
  }
}

TEST(HeadSelection, TraceTakesTheTracesHeadTypesAndNeedsThem) {
  HeadSelectionRequest request = request_for(HeadSelection::trace, 1, 0.0);
  EXPECT_THROW(select_head_layout(request), std::invalid_argument);
  const std::vector<HeadKind> types{HeadKind::dense, HeadKind::streaming, HeadKind::streaming};
  request.trace_head_types = &types;
  EXPECT_EQ(head_layout_text(select_head_layout(request)), "dss");
}

TEST(HeadSelection, CalibratedIsAGlobalQuantileAcrossLayers) {
  const HeadCalibration calibration = four_layer_calibration();
  // Half of the 12 pairs: the 6 cheapest are layer 0 (all three), layer 1 head 1, layer 2 head 0
  // and layer 1 head 0 (0.5): layers get 3, 2, 1 and 0 streaming heads.
  const std::vector<std::string> expected{"sss", "ssd", "sdd", "ddd"};
  const std::vector<std::string> inverted{"ddd", "dds", "dss", "sss"};
  for (int layer = 0; layer < 4; ++layer) {
    HeadSelectionRequest request = request_for(HeadSelection::calibrated, layer, 0.5);
    request.calibration = &calibration;
    EXPECT_EQ(head_layout_text(select_head_layout(request)), expected[layer]) << layer;
    request.selection = HeadSelection::calibrated_inverted;
    EXPECT_EQ(head_layout_text(select_head_layout(request)), inverted[layer]) << layer;
  }
}

TEST(HeadSelection, CalibratedNeedsAMatchingCalibration) {
  HeadSelectionRequest request = request_for(HeadSelection::calibrated, 2, 0.5);
  EXPECT_THROW(select_head_layout(request), std::invalid_argument);  // none
  HeadCalibration calibration = four_layer_calibration();
  request.calibration = &calibration;
  request.layer = 7;
  EXPECT_THROW(select_head_layout(request), std::invalid_argument);  // no such layer
  request.layer = 2;
  request.num_kv_heads = 4;
  EXPECT_THROW(select_head_layout(request), std::invalid_argument);  // other KV heads
}

TEST(HeadSelection, RandomIsSeededAndKeepsTheGlobalCount) {
  auto layouts = [](uint64_t seed, double fraction) {
    std::string all;
    for (int layer = 0; layer < 4; ++layer) {
      HeadSelectionRequest request = request_for(HeadSelection::random, layer, fraction);
      request.seed = seed;
      all += head_layout_text(select_head_layout(request));
    }
    return all;
  };
  for (double fraction : {0.25, 0.5, 0.75}) {
    const std::string layout = layouts(1, fraction);
    EXPECT_EQ(std::count(layout.begin(), layout.end(), 's'), std::lround(fraction * 12)) << fraction;
    EXPECT_EQ(layouts(1, fraction), layout);  // deterministic
  }
  bool differs = false;
  for (uint64_t seed = 2; seed < 6; ++seed) differs |= layouts(seed, 0.5) != layouts(1, 0.5);
  EXPECT_TRUE(differs);
  HeadSelectionRequest request = request_for(HeadSelection::random, 9, 0.5);
  EXPECT_THROW(select_head_layout(request), std::invalid_argument);  // not a layer of the trace
}

TEST(HeadSelection, QuantileTiesGoToTheLowerLayerThenHead) {
  const std::vector<std::vector<double>> equal{{1.0, 1.0}, {1.0, 1.0}};
  const auto streaming = streaming_by_global_quantile(equal, 0.5);
  EXPECT_EQ(streaming, (std::vector<std::vector<bool>>{{true, true}, {false, false}}));
  const auto highest = streaming_by_global_quantile(equal, 0.25, true);
  EXPECT_EQ(highest, (std::vector<std::vector<bool>>{{true, false}, {false, false}}));
  EXPECT_THROW(streaming_by_global_quantile(equal, 1.5), std::invalid_argument);
}

TEST(HeadSelection, ModesWithoutStreamingHeadsRunEveryHeadDense) {
  HeadLayout layout = HeadLayout::with_streaming_fraction(4, 0.5, 8, 32);
  EXPECT_EQ(head_layout_text(heads_that_run(layout, SparsityMode::static_dynamic)), "dsds");
  EXPECT_EQ(head_layout_text(heads_that_run(layout, SparsityMode::dynamic_only)), "dddd");
  EXPECT_EQ(heads_that_run(layout, SparsityMode::dense).num_streaming(), 0);
}

}  // namespace
}  // namespace unisparse
