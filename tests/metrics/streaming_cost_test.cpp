// Streaming-head costs find the heads the generator planted: streaming-type heads (sink + local
// mass) cost little as streaming heads, retrieval heads seeking needles in the middle cost much.
#include "framework/metrics/streaming_cost.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "framework/workload/generator.h"

namespace unisparse {
namespace {

PointConfig planted_point() {
  PointConfig point;
  point.shape = {8, 4, 64};
  point.context_len = 1024;
  point.decode_steps = 4;
  point.phase = Phase::decode;
  point.streaming_fraction = 0.5;  // KV heads 1 and 3 streaming-type
  point.sink_tokens = 16;
  point.local_tokens = 64;
  point.seed = 3;
  point.workload.knobs.needle_depths = {0.5};
  return point;
}

TEST(StreamingCost, PlantedStreamingHeadsAreTheCheapOnes) {
  const Workload workload = generate_workload(planted_point());
  const StreamingCost cost = streaming_cost(workload, 16, 64);
  ASSERT_EQ(cost.out_rel_l2.size(), 4u);
  for (int streaming : {1, 3})
    for (int retrieval : {0, 2}) {
      EXPECT_LT(cost.out_rel_l2[streaming], cost.out_rel_l2[retrieval])
          << streaming << " vs " << retrieval;
      EXPECT_LT(cost.outside_mass[streaming], cost.outside_mass[retrieval]);
    }
  for (int h = 0; h < 4; ++h) {
    EXPECT_GE(cost.outside_mass[h], 0.0);
    EXPECT_LE(cost.outside_mass[h], 1.0);
  }
}

TEST(StreamingCost, AWindowCoveringTheContextCostsNothing) {
  const Workload workload = generate_workload(planted_point());
  const StreamingCost cost = streaming_cost(workload, 0, 4096);
  for (int h = 0; h < 4; ++h) {
    EXPECT_LT(cost.out_rel_l2[h], 1e-6) << h;
    EXPECT_LT(cost.outside_mass[h], 1e-12) << h;  // 1 - (a sum of weights that is 1 up to rounding)
  }
}

TEST(StreamingCost, NeedsDecodeSteps) {
  PointConfig point = planted_point();
  point.phase = Phase::prefill;
  point.decode_steps = 0;
  EXPECT_THROW(streaming_cost(generate_workload(point), 16, 64), std::invalid_argument);
}

}  // namespace
}  // namespace unisparse
