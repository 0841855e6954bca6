// The head-type knobs of the generator: streaming_type_fraction plants streaming-type structure
// whatever the point's static layout, strength_spread gives every query head its own strengths.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "framework/core/error.h"
#include "framework/workload/generator.h"

namespace unisparse {
namespace {

PointConfig head_type_point() {
  PointConfig point;
  point.shape = {8, 4, 64};
  point.context_len = 400;
  point.decode_steps = 4;
  point.dtype = DType::fp32;
  point.sink_tokens = 4;
  point.local_tokens = 64;
  point.seed = 7;
  return point;
}

bool same_values(const Tensor& a, const Tensor& b) { return a.storage() == b.storage(); }

TEST(GeneratorHeadTypes, UnsetShareFollowsTheStaticLayout) {
  PointConfig unset = head_type_point();
  unset.streaming_fraction = 0.5;
  PointConfig half = unset;
  half.workload.knobs.streaming_type_fraction = 0.5;
  const Workload a = generate_workload(unset), b = generate_workload(half);
  EXPECT_TRUE(same_values(a.batch[0].k, b.batch[0].k));
  EXPECT_TRUE(same_values(a.batch[0].q_decode, b.batch[0].q_decode));
}

TEST(GeneratorHeadTypes, TheShareIsIndependentOfTheStaticLayout) {
  PointConfig planted = head_type_point();
  planted.streaming_fraction = 0.5;  // the streaming-type heads of the static layout
  PointConfig dense_layout = planted;
  dense_layout.streaming_fraction = 0.0;
  dense_layout.workload.knobs.streaming_type_fraction = 0.5;
  const Workload a = generate_workload(planted), b = generate_workload(dense_layout);
  EXPECT_TRUE(same_values(a.batch[0].k, b.batch[0].k));
  EXPECT_TRUE(same_values(a.batch[0].q_decode, b.batch[0].q_decode));
  EXPECT_EQ(b.heads.num_streaming(), 0);  // the plan's layout is the point's, not the knob's
  EXPECT_EQ(a.heads.num_streaming(), 2);

  PointConfig no_types = dense_layout;
  no_types.workload.knobs.streaming_type_fraction = 0.0;  // a layout of 0.5, no streaming type
  no_types.streaming_fraction = 0.5;
  const Workload c = generate_workload(no_types);
  EXPECT_EQ(c.heads.num_streaming(), 2);
  EXPECT_FALSE(same_values(a.batch[0].k, c.batch[0].k));
}

// Channel 0 of a query is its sink amplitude alone (noise starts past the structural channels).
std::vector<double> sink_amplitudes(const Workload& workload) {
  std::vector<double> amplitudes;
  for (int h = 0; h < workload.shape.num_q_heads; ++h)
    amplitudes.push_back(workload.batch[0].q_decode.row({0, h})[0]);
  return amplitudes;
}

TEST(GeneratorHeadTypes, StrengthSpreadGivesEachQueryHeadItsOwnStrengths) {
  PointConfig point = head_type_point();
  point.shape = {256, 8, 64};
  point.streaming_fraction = 0.0;  // every head retrieval-type: one sink amplitude per strength
  const std::vector<double> alike = sink_amplitudes(generate_workload(point));
  for (double amplitude : alike) EXPECT_DOUBLE_EQ(amplitude, alike.front());

  point.workload.knobs.strength_spread = 0.5;
  const std::vector<double> spread = sink_amplitudes(generate_workload(point));
  double sum = 0, sum_squares = 0;
  for (double amplitude : spread) {
    ASSERT_GT(amplitude, 0);
    const double log_ratio = std::log(amplitude / alike.front());
    sum += log_ratio;
    sum_squares += log_ratio * log_ratio;
  }
  const double n = static_cast<double>(spread.size());
  const double mean = sum / n, std_dev = std::sqrt(sum_squares / n - mean * mean);
  // A log-normal factor of sigma 0.5 around the knob's value: 256 heads estimate sigma to ~5%.
  EXPECT_NEAR(mean, 0.0, 0.1);
  EXPECT_NEAR(std_dev, 0.5, 0.075);
}

TEST(GeneratorHeadTypes, OutOfRangeKnobsAreInputErrors) {
  PointConfig point = head_type_point();
  point.workload.knobs.streaming_type_fraction = 1.5;
  EXPECT_THROW(generate_workload(point), InputError);
  point = head_type_point();
  point.workload.knobs.strength_spread = -0.1;
  EXPECT_THROW(generate_workload(point), InputError);
  // Streaming-type heads need a local window even when the layout has no streaming heads.
  point = head_type_point();
  point.streaming_fraction = 0.0;
  point.local_tokens = 0;
  point.workload.knobs.streaming_type_fraction = 0.25;
  EXPECT_THROW(generate_workload(point), InputError);
}

}  // namespace
}  // namespace unisparse
