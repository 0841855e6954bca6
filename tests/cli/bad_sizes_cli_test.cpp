// The command line on sizes past the harness's limits: a trace header whose shape does not fit its
// file, and a context length of 10^12, both exit 2 with a message naming the file, tensor or key
// and the limit, and write nothing.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "framework/core/size_limits.h"
#include "tests/cli/cli_process.h"
#include "tests/config/yaml_test_files.h"

namespace unisparse {
namespace {

namespace fs = std::filesystem;
using testing::expect_contains;
using testing_support::CliResult;
using testing_support::run_cli;

// [num_kv_heads, T, head_dim] F32 with an empty span: the byte count of both shapes wraps to 0.
const std::string kWrappedCountHeader =
    R"({"layers.0.k":{"dtype":"F32","shape":[1,4611686018427387904,4],"data_offsets":[0,0]},)"
    R"("layers.0.v":{"dtype":"F32","shape":[1,4611686018427387904,4],"data_offsets":[0,0]}})";
const std::string kHugeKvHeadsHeader =
    R"({"layers.0.k":{"dtype":"F32","shape":[2305843009213693952,1,4],"data_offsets":[0,0]},)"
    R"("layers.0.v":{"dtype":"F32","shape":[2305843009213693952,1,4],"data_offsets":[0,0]},)"
    R"("layers.0.q_decode":{"dtype":"F32","shape":[1,2305843009213693952,4],"data_offsets":[0,0]}})";

class BadSizesCliTest : public ::testing::Test {
 protected:
  std::string safetensors(const std::string& name, const std::string& header) {
    std::string bytes;
    for (int i = 0; i < 8; ++i)
      bytes += static_cast<char>(static_cast<uint64_t>(header.size()) >> (8 * i));
    return dir_.write(name, bytes + header);
  }
  std::string select(const std::string& trace) {
    return "select --trace " + trace +
           " --page-size 16 --logical-page-size 16 --token-budget 64 --reuse-interval 1";
  }
  std::string results() const { return dir_.path() + "/results"; }
  std::string configs() const { return std::string(UNISPARSE_SOURCE_DIR) + "/configs"; }

  testing::ScratchDir dir_;
};

TEST_F(BadSizesCliTest, SelectOnAWrappedByteCountExitsTwoNamingFileAndTensor) {
  const std::string trace = safetensors("wrapped.safetensors", kWrappedCountHeader);
  const CliResult result = run_cli(select(trace), dir_.path());
  EXPECT_EQ(result.exit_code, 2) << result.err;
  expect_contains(result.err, {"unisparse: error: " + trace +
                               ": tensor 'layers.0.k': F32 [1, "
                               "4611686018427387904, 4] needs more bytes than the whole data "
                               "section (0 bytes)"});
  EXPECT_TRUE(result.out.empty()) << result.out;
}

TEST_F(BadSizesCliTest, SelectOnAHugeKvHeadCountExitsTwoNamingFileAndTensor) {
  // This header used to end in std::vector's length_error and exit 1.
  const std::string trace = safetensors("heads.safetensors", kHugeKvHeadsHeader);
  const CliResult result = run_cli(select(trace), dir_.path());
  EXPECT_EQ(result.exit_code, 2) << result.err;
  expect_contains(result.err, {trace + ": tensor 'layers.0.k'", "[2305843009213693952, 1, 4]"});
  EXPECT_EQ(result.err.find("max_size"), std::string::npos) << result.err;
}

TEST_F(BadSizesCliTest, RunOnABadTraceExitsTwoAndWritesNothing) {
  const std::string trace = safetensors("heads.safetensors", kHugeKvHeadsHeader);
  const std::string sweep = dir_.write("trace.yaml",
                                       "name: bad_trace\n"
                                       "model: tiny\n"
                                       "workload: {trace: heads.safetensors}\n"
                                       "phase: decode\n"
                                       "backends: [cpu]\n");
  const CliResult result = run_cli(
      "run " + sweep + " --configs " + configs() + " --quiet --results " + results(), dir_.path());
  EXPECT_EQ(result.exit_code, 2) << result.err;
  expect_contains(result.err, {trace + ": tensor 'layers.0.k'"});
  EXPECT_FALSE(fs::exists(results()));
}

TEST_F(BadSizesCliTest, ContextLengthOfTenToTheTwelfthExitsTwoNamingTheLimit) {
  const std::string sweep = dir_.write("tiny.yaml",
                                       "name: tiny_limits\n"
                                       "model: tiny\n"
                                       "workload: needle\n"
                                       "phase: decode\n"
                                       "backends: [cpu]\n");
  const CliResult result =
      run_cli("run " + sweep + " --configs " + configs() +
                  " --quiet --set context_len=1000000000000" + " --results " + results(),
              dir_.path());
  EXPECT_EQ(result.exit_code, 2) << result.err;
  expect_contains(result.err,
                  {"key 'context_len'", "must be in [1, " + std::to_string(kMaxSequenceTokens) +
                                            "], got 1000000000000"});
  EXPECT_FALSE(fs::exists(results()));
}

}  // namespace
}  // namespace unisparse
