// The CUDA block-sparse prefill kernel against an fp64 attention over exactly the tokens the plan
// makes visible (dense causal, streaming, block list), on odd sizes, GQA, both 16-bit types, head dims
// 64 and 128 and block sizes 64 and 128. Outputs are NaN-poisoned before every run (cuda_prefill).
// The kernel path is the automatic one (sm90 on a compute capability 9.0 device, else sm80);
// prefill_sm90_test.cpp runs both paths forced.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "framework/core/error.h"
#include "kernels/prefill/prefill_host.h"
#include "tests/gpu/prefill_test_util.h"

namespace unisparse {
namespace {

using prefill_test::correctness_only;
using prefill_test::expect_matches_reference;
using prefill_test::has_cuda_device;
using prefill_test::make_workload;
using prefill_test::mixed_plan;

#define SKIP_WITHOUT_GPU() \
  if (!has_cuda_device()) GTEST_SKIP() << "no CUDA device"

struct Case {
  int seq_len, head_dim, block_size;
  DType dtype;
};

class PrefillMixedModes : public ::testing::TestWithParam<Case> {};

TEST_P(PrefillMixedModes, MatchesFp64ReferenceOverVisibleTokens) {
  SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  // 6 query heads on 2 KV heads: group 3, and every mode lands on both KV heads.
  const Workload workload = make_workload(6, 2, c.head_dim, c.seq_len, c.dtype, 1, 1000 + c.seq_len);
  // A sink and a window that split blocks.
  const PrefillPlan plan = mixed_plan(6, c.seq_len, c.block_size, 37, 203, 7 + c.seq_len);
  const PrefillRun run = cuda::cuda_prefill(workload, plan, correctness_only());
  expect_matches_reference(workload, plan, run, 1e-2);
}

std::vector<Case> mixed_cases() {
  std::vector<Case> cases;
  for (int seq_len : {63, 1000, 4099})
    for (int head_dim : {64, 128})
      for (int block_size : {64, 128})
        for (DType dtype : {DType::bf16, DType::fp16}) cases.push_back({seq_len, head_dim, block_size, dtype});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(
    OddSizes, PrefillMixedModes, ::testing::ValuesIn(mixed_cases()), [](const auto& info) {
      const Case& c = info.param;
      return "T" + std::to_string(c.seq_len) + "_d" + std::to_string(c.head_dim) + "_block" +
             std::to_string(c.block_size) + "_" + std::string(to_string(c.dtype));
    });

TEST(PrefillDense, LongerSequenceGroupOfFourSampledRows) {
  SKIP_WITHOUT_GPU();
  const Workload workload = make_workload(8, 2, 128, 8191, DType::bf16, 1, 5);
  const PrefillPlan plan = make_prefill_plan(workload.shape, workload.heads, 128, false);
  expect_matches_reference(workload, plan, cuda::cuda_prefill(workload, plan, correctness_only()), 1e-2);
}

TEST(PrefillStreaming, WindowsThatSplitBlocksAndEdgeCases) {
  SKIP_WITHOUT_GPU();
  const Workload workload = make_workload(4, 4, 64, 2049, DType::fp16, 1, 9);
  // (sink, local): unaligned; sink only on the first token; no sink; window longer than the sequence.
  for (auto [sink, local] : {std::pair{100, 333}, {1, 64}, {0, 129}, {128, 4096}, {70, 1}}) {
    PrefillPlan plan;
    plan.block_size = 64;
    plan.sink_tokens = sink;
    plan.local_tokens = local;
    plan.head_mode.assign(4, PrefillHeadMode::streaming);
    SCOPED_TRACE("sink " + std::to_string(sink) + " local " + std::to_string(local));
    expect_matches_reference(workload, plan, cuda::cuda_prefill(workload, plan, correctness_only()),
                             1e-2);
  }
}

TEST(PrefillBatch, SequencesAreIndependent) {
  SKIP_WITHOUT_GPU();
  const Workload workload = make_workload(4, 1, 128, 300, DType::bf16, 3, 21);
  const PrefillPlan plan = mixed_plan(4, 300, 64, 16, 100, 3);
  expect_matches_reference(workload, plan, cuda::cuda_prefill(workload, plan, correctness_only()), 1e-2);
}

TEST(PrefillUnsupported, Fp32AndOddHeadDimAreReported) {
  const Workload fp32 = make_workload(2, 1, 64, 10, DType::fp32, 1, 1);
  const PrefillPlan plan = make_prefill_plan(fp32.shape, fp32.heads, 64, false);
  EXPECT_THROW(cuda::cuda_prefill(fp32, plan, correctness_only()), Unsupported);
  SKIP_WITHOUT_GPU();
  const Workload odd_dim = make_workload(2, 1, 96, 10, DType::bf16, 1, 1);
  EXPECT_THROW(cuda::cuda_prefill(odd_dim, make_prefill_plan(odd_dim.shape, odd_dim.heads, 64, false),
                                  correctness_only()),
               Unsupported);
}

TEST(PrefillPlanChecks, RejectsBlockIdsOutsideTheSequence) {
  const Workload workload = make_workload(2, 1, 64, 130, DType::bf16, 1, 4);
  PrefillPlan plan = mixed_plan(2, 130, 64, 4, 64, 1);
  plan.head_mode.assign(2, PrefillHeadMode::block_list);
  plan.blocks = Csr{};
  for (int row = 0; row < 2 * 3; ++row) plan.blocks.append_row(std::vector<int32_t>{row == 4 ? 3 : 0});
  EXPECT_THROW(cuda::cuda_prefill(workload, plan, correctness_only()), std::invalid_argument);
}

TEST(PrefillTiming, MeasureFillsAttentionAndTotal) {
  SKIP_WITHOUT_GPU();
  const Workload workload = make_workload(4, 2, 128, 1024, DType::bf16, 1, 3);
  const PrefillPlan plan = make_prefill_plan(workload.shape, workload.heads, 128, false);
  RunOptions options;
  options.timing = {.warmup = 1, .min_iters = 3, .max_iters = 5, .max_noise = 0.5, .l2_flush = true};
  const PrefillRun run = cuda::cuda_prefill(workload, plan, options);
  EXPECT_GT(run.times.attention_us, 0);
  EXPECT_GT(run.times.total_us, 0);
  EXPECT_LE(run.times.total_min_us, run.times.total_max_us);
  EXPECT_GE(run.times.iterations, 3);
  EXPECT_FALSE(run.times.timer.empty());
}

}  // namespace
}  // namespace unisparse
