// Both prefill kernel paths, forced with UNISPARSE_PREFILL_KERNEL (sm80: mma.sync + cp.async; sm90:
// wgmma + TMA), on the same cases: every head mode in one plan (dense causal, streaming with a sink
// and a window that split blocks, block lists with empty rows), GQA, odd lengths (63, 1000, 4099,
// 28837), head dims 64 and 128, blocks 64 and 128, fp16 and bf16, against the fp64 attention over the
// visible tokens, against the CPU backend (cpu_prefill) and sm90 against sm80. Outputs are
// NaN-poisoned before every run (cuda_prefill) and checked for NaN. The sm90 cases skip, naming the
// reason, on a device that is not compute capability 9.0; everything skips without a device.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "framework/core/error.h"
#include "framework/sparse/cpu_prefill.h"
#include "kernels/common/device_buffer.h"
#include "kernels/prefill/prefill_host.h"
#include "kernels/prefill/prefill_kernel_path.h"
#include "kernels/prefill/prefill_launch.h"
#include "tests/gpu/prefill_test_util.h"

namespace unisparse {
namespace {

using cuda::PrefillKernelPath;
using prefill_test::correctness_only;
using prefill_test::expect_matches_reference;
using prefill_test::make_workload;
using prefill_test::mixed_plan;
using prefill_test::ScopedPrefillKernel;

#define SKIP_UNLESS_PATH_RUNS_HERE(path)                                                        \
  if (!prefill_test::has_cuda_device()) GTEST_SKIP() << "no CUDA device";                      \
  if ((path) == PrefillKernelPath::sm90)                                                        \
    if (const std::string reason = prefill_test::sm90_unavailable_here(); !reason.empty())     \
  GTEST_SKIP() << reason

// Per head, ||a - b|| / ||b|| over every output of the sequence; both NaN-free.
void expect_close_per_head(const Tensor& a, const Tensor& b, double tolerance, const char* what) {
  ASSERT_EQ(a.shape(), b.shape());
  const int64_t heads = a.shape()[0], per_head = a.size() / heads;
  for (int64_t h = 0; h < heads; ++h) {
    double error = 0, norm = 0;
    int64_t nan_count = 0;
    for (int64_t i = h * per_head; i < (h + 1) * per_head; ++i) {
      const double x = a.storage()[i], y = b.storage()[i];
      nan_count += std::isnan(x) + std::isnan(y);
      error += (x - y) * (x - y);
      norm += y * y;
    }
    ASSERT_EQ(nan_count, 0) << what << ": head " << h;
    EXPECT_LE(std::sqrt(error / std::max(norm, 1e-300)), tolerance) << what << ": head " << h;
  }
}

struct PathCase {
  int seq_len, head_dim, block_size;
  DType dtype;
  PrefillKernelPath path;
};

class PrefillKernelPaths : public ::testing::TestWithParam<PathCase> {};

TEST_P(PrefillKernelPaths, MatchFp64ReferenceAndCpuBackend) {
  const PathCase c = GetParam();
  SKIP_UNLESS_PATH_RUNS_HERE(c.path);
  const ScopedPrefillKernel kernel(cuda::to_string(c.path));
  // 6 query heads on 2 KV heads: group 3, and every mode lands on both KV heads.
  const Workload workload = make_workload(6, 2, c.head_dim, c.seq_len, c.dtype, 1, 2000 + c.seq_len);
  const PrefillPlan plan = mixed_plan(6, c.seq_len, c.block_size, 37, 203, 11 + c.seq_len);
  const PrefillRun run = cuda::cuda_prefill(workload, plan, correctness_only());
  expect_matches_reference(workload, plan, run, 1e-2);
  // The CPU backend computes every row; keep it to the lengths where that is quick.
  if (c.seq_len <= 1000)
    expect_close_per_head(run.out[0], cpu_prefill(workload, plan)[0], 1e-2, "against cpu_prefill");
}

std::vector<PathCase> path_cases() {
  std::vector<PathCase> cases;
  for (PrefillKernelPath path : {PrefillKernelPath::sm80, PrefillKernelPath::sm90})
    for (int seq_len : {63, 1000, 4099, 28837})
      for (int head_dim : {64, 128})
        for (int block_size : {64, 128})
          for (DType dtype : {DType::bf16, DType::fp16}) {
            // The longest length once per shape (bf16): its reference rows are sampled anyway.
            if (seq_len == 28837 && dtype == DType::fp16) continue;
            cases.push_back({seq_len, head_dim, block_size, dtype, path});
          }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(
    OddSizes, PrefillKernelPaths, ::testing::ValuesIn(path_cases()), [](const auto& info) {
      const PathCase& c = info.param;
      return std::string(cuda::to_string(c.path)) + "_T" + std::to_string(c.seq_len) + "_d" +
             std::to_string(c.head_dim) + "_block" + std::to_string(c.block_size) + "_" +
             std::string(to_string(c.dtype));
    });

class PrefillPathStreaming : public ::testing::TestWithParam<PrefillKernelPath> {};

TEST_P(PrefillPathStreaming, WindowsThatSplitBlocksAndEdgeCases) {
  SKIP_UNLESS_PATH_RUNS_HERE(GetParam());
  const ScopedPrefillKernel kernel(cuda::to_string(GetParam()));
  const Workload workload = make_workload(4, 4, 64, 2049, DType::fp16, 1, 9);
  // (sink, local): unaligned; sink only on the first token; no sink; window longer than the
  // sequence; a window of one token.
  for (int block_size : {64, 128})
    for (auto [sink, local] : {std::pair{100, 333}, {1, 64}, {0, 129}, {128, 4096}, {70, 1}}) {
      PrefillPlan plan;
      plan.block_size = block_size;
      plan.sink_tokens = sink;
      plan.local_tokens = local;
      plan.head_mode.assign(4, PrefillHeadMode::streaming);
      SCOPED_TRACE("block " + std::to_string(block_size) + " sink " + std::to_string(sink) +
                   " local " + std::to_string(local));
      expect_matches_reference(workload, plan, cuda::cuda_prefill(workload, plan, correctness_only()),
                               1e-2);
    }
}

TEST_P(PrefillPathStreaming, SequencesOfABatchAreIndependent) {
  SKIP_UNLESS_PATH_RUNS_HERE(GetParam());
  const ScopedPrefillKernel kernel(cuda::to_string(GetParam()));
  const Workload workload = make_workload(4, 1, 128, 300, DType::bf16, 3, 21);
  for (int block_size : {64, 128}) {
    const PrefillPlan plan = mixed_plan(4, 300, block_size, 16, 100, 3);
    SCOPED_TRACE("block " + std::to_string(block_size));
    expect_matches_reference(workload, plan, cuda::cuda_prefill(workload, plan, correctness_only()),
                             1e-2);
  }
}

TEST_P(PrefillPathStreaming, DenseGroupOfFourSampledRows) {
  SKIP_UNLESS_PATH_RUNS_HERE(GetParam());
  const ScopedPrefillKernel kernel(cuda::to_string(GetParam()));
  const Workload workload = make_workload(8, 2, 128, 8191, DType::bf16, 1, 5);
  const PrefillPlan plan = make_prefill_plan(workload.shape, workload.heads, 128, false);
  expect_matches_reference(workload, plan, cuda::cuda_prefill(workload, plan, correctness_only()), 1e-2);
}

INSTANTIATE_TEST_SUITE_P(BothPaths, PrefillPathStreaming,
                         ::testing::Values(PrefillKernelPath::sm80, PrefillKernelPath::sm90),
                         [](const auto& info) { return std::string(cuda::to_string(info.param)); });

// The two kernels round P to 16 bits at different points of different accumulation orders; on the
// same inputs they must still agree to well within their distance from fp64.
TEST(PrefillSm90, AgreesWithSm80OnEveryOutput) {
  SKIP_UNLESS_PATH_RUNS_HERE(PrefillKernelPath::sm90);
  struct Shape {
    int seq_len, head_dim, block_size;
    DType dtype;
  };
  for (const Shape shape : {Shape{4099, 128, 128, DType::bf16}, Shape{28837, 64, 64, DType::fp16},
                            Shape{28837, 128, 128, DType::bf16}}) {
    SCOPED_TRACE("T " + std::to_string(shape.seq_len) + " d " + std::to_string(shape.head_dim) +
                 " block " + std::to_string(shape.block_size));
    const Workload workload =
        make_workload(6, 2, shape.head_dim, shape.seq_len, shape.dtype, 1, 40 + shape.head_dim);
    const PrefillPlan plan = mixed_plan(6, shape.seq_len, shape.block_size, 128, 1024, 19);
    PrefillRun runs[2];
    for (PrefillKernelPath path : {PrefillKernelPath::sm80, PrefillKernelPath::sm90}) {
      const ScopedPrefillKernel kernel(cuda::to_string(path));
      runs[int(path)] = cuda::cuda_prefill(workload, plan, correctness_only());
    }
    expect_close_per_head(runs[int(PrefillKernelPath::sm90)].out[0],
                          runs[int(PrefillKernelPath::sm80)].out[0], 1e-2, "sm90 against sm80");
  }
}

TEST(PrefillKernelChoice, UnknownValueIsBadInput) {
  if (!prefill_test::has_cuda_device()) GTEST_SKIP() << "no CUDA device";
  const ScopedPrefillKernel kernel("sm70");
  const Workload workload = make_workload(2, 1, 64, 100, DType::bf16, 1, 1);
  const PrefillPlan plan = make_prefill_plan(workload.shape, workload.heads, 64, false);
  try {
    cuda::cuda_prefill(workload, plan, correctness_only());
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("UNISPARSE_PREFILL_KERNEL"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("sm70"), std::string::npos);
  }
}

// The launch returns the path that ran: sm80 when forced; automatic is sm90 exactly where the sm90
// kernel runs. Forcing sm90 where it cannot run (another device, or a K base TMA cannot take) is
// Unsupported before anything is launched.
TEST(PrefillKernelChoice, LaunchReportsThePathThatRan) {
  if (!prefill_test::has_cuda_device()) GTEST_SKIP() << "no CUDA device";
  constexpr int kHeads = 2, kSeqLen = 130, kHeadDim = 64;
  constexpr int64_t kCount = int64_t{kHeads} * kSeqLen * kHeadDim;
  cuda::DeviceBuffer<uint16_t> q(kCount), k(kCount + 8), v(kCount);  // K: room for an offset base
  cuda::DeviceBuffer<float> out(kCount);
  cuda::DeviceBuffer<int8_t> modes;
  modes.upload(std::vector<int8_t>(kHeads, int8_t(cuda::PrefillTileMode::dense_causal)));
  UNISPARSE_CUDA_CHECK(cudaMemset(q.data(), 0, kCount * 2));
  UNISPARSE_CUDA_CHECK(cudaMemset(k.data(), 0, (kCount + 8) * 2));
  UNISPARSE_CUDA_CHECK(cudaMemset(v.data(), 0, kCount * 2));
  cuda::PrefillParams params{};
  params.q = q.data();
  params.k = k.data();
  params.v = v.data();
  params.out = out.data();
  params.q_row_stride = params.kv_row_stride = params.out_row_stride = kHeadDim;
  params.q_head_stride = params.kv_head_stride = params.out_head_stride = int64_t{kSeqLen} * kHeadDim;
  params.q_batch_stride = params.kv_batch_stride = params.out_batch_stride = kCount;
  params.seq_len = kSeqLen;
  params.num_q_heads = kHeads;
  params.group_size = 1;
  params.block_size = 64;
  params.num_q_blocks = (kSeqLen + 63) / 64;
  params.head_mode = reinterpret_cast<const cuda::PrefillTileMode*>(modes.data());
  params.softmax_scale_log2 = 0.18f;
  const bool sm90_here = prefill_test::sm90_unavailable_here().empty();
  // Zero V makes every visible row exactly zero: a poisoned row left unwritten shows as NaN.
  const auto launch = [&](const cuda::PrefillParams& p) {
    UNISPARSE_CUDA_CHECK(cudaMemset(out.data(), 0xff, kCount * sizeof(float)));
    const PrefillKernelPath path =
        cuda::launch_block_sparse_prefill(p, DType::bf16, kHeadDim, 1, nullptr);
    UNISPARSE_CUDA_CHECK(cudaDeviceSynchronize());
    int64_t not_zero = 0;
    for (float x : out.download()) not_zero += !(x == 0.f);
    EXPECT_EQ(not_zero, 0) << cuda::to_string(path);
    return path;
  };
  {
    const ScopedPrefillKernel kernel("sm80");
    EXPECT_EQ(launch(params), PrefillKernelPath::sm80);
  }
  {
    const ScopedPrefillKernel kernel("auto");
    EXPECT_EQ(launch(params), sm90_here ? PrefillKernelPath::sm90 : PrefillKernelPath::sm80);
  }
  const ScopedPrefillKernel kernel("sm90");
  if (!sm90_here) {
    EXPECT_THROW(launch(params), Unsupported);
    return;
  }
  EXPECT_EQ(launch(params), PrefillKernelPath::sm90);
  cuda::PrefillParams misaligned = params;
  misaligned.k = k.data() + 4;  // 8 bytes past an aligned allocation
  EXPECT_THROW(launch(misaligned), Unsupported);
}

}  // namespace
}  // namespace unisparse
