// The generator's size checks: context + decode steps against kMaxSequenceTokens (their sum used to
// overflow an int at INT_MAX), batch x heads x tokens x head_dim against kMaxTensorElements, both
// computed without overflow and refused with a message that names the limit.
#include <gtest/gtest.h>

#include <climits>
#include <string>

#include "framework/config/point.h"
#include "framework/core/size_limits.h"
#include "framework/workload/generator.h"
#include "tests/config/yaml_test_files.h"

namespace unisparse {
namespace {

using testing::expect_contains;
using testing::input_error_of;

PointConfig tiny_point() {
  PointConfig point;
  point.shape = {2, 1, 8};
  point.context_len = 16;
  point.decode_steps = 2;
  point.batch = 1;
  return point;
}

TEST(ProductWithin, MultipliesWithoutOverflow) {
  EXPECT_EQ(product_within({2, 3, 7}, 42), 42);
  EXPECT_FALSE(product_within({2, 3, 7}, 41));
  EXPECT_FALSE(product_within({int64_t{1} << 62, 4}, INT64_MAX));  // 2^64 wraps to 0 unchecked
  EXPECT_FALSE(product_within({int64_t{1} << 61, 1, 4}, INT64_MAX));
  EXPECT_EQ(product_within({int64_t{1} << 62, 0, 4}, 1), 0);  // empty, whatever the other extents
  EXPECT_FALSE(product_within({-1, 0}, INT64_MAX));
  EXPECT_EQ(product_within({}, 1), 1);
}

TEST(GeneratorLimits, ContextPlusDecodeStepsStopAtTheSequenceLimit) {
  PointConfig point = tiny_point();
  point.context_len = INT_MAX;  // the sum with decode_steps used to overflow
  point.decode_steps = INT_MAX;
  expect_contains(
      input_error_of([&] { generate_workload(point); }),
      {"key 'decode_steps'", "context_len + decode_steps = " + std::to_string(2 * int64_t{INT_MAX}),
       "exceeds the limit of " + std::to_string(kMaxSequenceTokens) + " tokens per sequence"});
  point.context_len = kMaxSequenceTokens;
  point.decode_steps = 1;
  expect_contains(input_error_of([&] { generate_workload(point); }),
                  {"context_len + decode_steps = " + std::to_string(kMaxSequenceTokens + 1)});
}

TEST(GeneratorLimits, TensorElementsStopAtTheTensorLimit) {
  // 2^31 - 1 sequences x 2 heads x 18 tokens x 16 channels = 1.2e12 elements, past the limit.
  PointConfig point = tiny_point();
  point.batch = INT_MAX;
  point.shape = {2, 1, 16};
  expect_contains(
      input_error_of([&] { generate_workload(point); }),
      {"key 'batch'",
       "batch x num_q_heads x (context_len + decode_steps) x head_dim = " +
           std::to_string(INT_MAX) + " x 2 x 18 x 16",
       "exceeds the limit of " + std::to_string(kMaxTensorElements) + " elements per tensor"});
  // With 2^31 - 2 heads as well the product is past int64 itself.
  point.shape = {INT_MAX - 1, 1, 8};
  expect_contains(input_error_of([&] { generate_workload(point); }),
                  {"key 'batch'", "exceeds the limit of " + std::to_string(kMaxTensorElements)});
}

TEST(GeneratorLimits, PointsWithinTheLimitsAreGenerated) {
  const Workload workload = generate_workload(tiny_point());
  EXPECT_EQ(workload.batch.size(), 1u);
  EXPECT_EQ(workload.batch[0].k_decode.dim(0), 2);
}

}  // namespace
}  // namespace unisparse
