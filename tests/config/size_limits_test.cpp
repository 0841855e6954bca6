// The parameter table's size limits: context_len and decode_steps stop at kMaxSequenceTokens (so
// their sum fits an int), and a value past a limit is refused with a message that names it, in a
// sweep file and in an override alike.
#include "framework/core/size_limits.h"

#include <gtest/gtest.h>

#include <string>

#include "framework/config/params.h"
#include "framework/config/sweep_config.h"
#include "tests/config/yaml_test_files.h"

namespace unisparse {
namespace {

using testing::expect_contains;
using testing::input_error_of;
using testing::repo_configs_dir;
using testing::ScratchDir;

const std::string kLimit = std::to_string(kMaxSequenceTokens);

// The ParamValueError message of setting key to text.
std::string refusal(const std::string& key, const std::string& text) {
  PointConfig point;
  try {
    set_param(point, key, text);
  } catch (const ParamValueError& error) {
    return error.what();
  }
  ADD_FAILURE() << key << "=" << text << " was accepted";
  return {};
}

TEST(SizeLimits, ContextLengthStopsAtTheSequenceLimit) {
  PointConfig point;
  set_param(point, "context_len", kLimit);
  EXPECT_EQ(point.context_len, kMaxSequenceTokens);
  EXPECT_EQ(refusal("context_len", "1000000000000"),
            "must be in [1, " + kLimit + "], got 1000000000000");
  EXPECT_EQ(refusal("context_len", std::to_string(kMaxSequenceTokens + 1)),
            "must be in [1, " + kLimit + "], got " + std::to_string(kMaxSequenceTokens + 1));
}

TEST(SizeLimits, DecodeStepsStopAtTheSequenceLimit) {
  PointConfig point;
  set_param(point, "decode_steps", kLimit);
  EXPECT_EQ(point.decode_steps, kMaxSequenceTokens);
  EXPECT_EQ(refusal("decode_steps", "1000000000000"),
            "must be in [0, " + kLimit + "], got 1000000000000");
}

TEST(SizeLimits, DescriptionsStateTheLimits) {
  expect_contains(find_param("context_len")->description,
                  {"T + decode_steps <= " + kLimit, "in [1, " + kLimit + "]"});
  expect_contains(find_param("decode_steps")->description,
                  {"context_len + decode_steps <= " + kLimit, "in [0, " + kLimit + "]"});
  expect_contains(find_param("batch")->description,
                  {"batch x num_q_heads x (context_len + decode_steps) x head_dim <= " +
                   std::to_string(kMaxTensorElements)});
}

TEST(SizeLimits, SweepFileAndOverrideNameTheLimit) {
  const ScratchDir dir;
  const std::string sweep = dir.write("limits.yaml",
                                      "name: limits\n"
                                      "model: tiny\n"
                                      "workload: needle\n"
                                      "phase: decode\n"
                                      "backends: [cpu]\n"
                                      "fixed: {context_len: 1000000000000}\n");
  expect_contains(input_error_of([&] { load_sweep(sweep, {}, repo_configs_dir()); }),
                  {"limits.yaml:6: key 'fixed.context_len'", "must be in [1, " + kLimit + "]"});
  const std::string valid = dir.write("valid.yaml",
                                      "name: limits\n"
                                      "model: tiny\n"
                                      "workload: needle\n"
                                      "phase: decode\n"
                                      "backends: [cpu]\n");
  expect_contains(
      input_error_of([&] {
        load_sweep(valid, {{Override::fixed, "decode_steps=1000000000000"}}, repo_configs_dir());
      }),
      {"<command line>", "key 'decode_steps'", "must be in [0, " + kLimit + "]"});
}

}  // namespace
}  // namespace unisparse
