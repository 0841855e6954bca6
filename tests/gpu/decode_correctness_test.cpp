// The cuda backend's decode against the CPU backend (same algorithm: exact page sets up to near-ties,
// tight output error) and against an fp64 attention over exactly the tokens the GPU attended, on odd
// context lengths, every page / logical page size, budgets below and above the context, all sparsity
// modes, all GQA selection modes, fp16 and bf16, and the quantized KV formats int8, int4 and fp8. The
// backend poisons its outputs with NaN first.
//
// Quantized KV: the GPU stores exactly the codes and parameters the CPU backend attends
// (kv_storage_test checks that bit for bit) and its tensor-core kernel multiplies them exactly (codes
// as fp16 integers, fp32 accumulation), rounding only P to fp16 as FlashAttention does; so the bounds
// against the CPU backend and against fp64 attention over the stored K/V are the fp16 ones. What
// quantization costs is the error against fp64 attention over the unquantized K/V, bounded per
// format by its precision (quantization_bound below).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "framework/core/error.h"
#include "framework/reference/dense_attention.h"
#include "framework/core/kv_quant.h"
#include "framework/sparse/cpu_backend.h"
#include "framework/sparse/cpu_decode.h"
#include "framework/sparse/key_stats.h"
#include "framework/sparse/page_scores.h"
#include "framework/sparse/plan.h"
#include "kernels/api.h"
#include "tests/gpu/gpu_test_util.h"

namespace unisparse {
namespace {

using gpu_test::relative_l2;

struct DecodeCase {
  std::string name;
  ModelShape shape;
  int context_len;
  int batch;
  int steps;
  DType dtype;
  SparsityMode mode;
  int page_size;
  int logical_page_size;
  int token_budget;
  int reuse_interval;
  GqaSelection gqa;
  double streaming_fraction = 0.5;
  int sink_tokens = 128;
  int local_tokens = 256;
  DType kv_storage = DType::fp32;  // a quantized format, or fp32 for the workload's dtype
};

// Relative L2 bound of attention over the stored K/V against the unquantized K/V, from each format's
// per-element error: int8 at most scale / 2 = range / 510, int4 range / 30, e4m3 2^-4 relative. A
// row of the generator spans up to ~10 sigma (planted structure included), so per element that is up
// to 2% (int8), 33% (int4) and 6% (fp8) of the row's rms; the softmax turns key errors into weight
// errors in proportion to the logits, which reach several units on the planted tokens. The bounds
// allow that amplification (about 2x); measured worst cases are printed per case.
double quantization_bound(DType kv_storage) {
  switch (kv_storage) {
    case DType::int8: return 4e-2;
    case DType::fp8: return 0.15;
    case DType::int4: return 0.6;
    default: return 0.0;
  }
}

// The case as a sweep point: its workload and, through make_decode_plan, its plan.
PointConfig point_of(const DecodeCase& c) {
  PointConfig point;
  point.shape = c.shape;
  point.context_len = c.context_len;
  point.batch = c.batch;
  point.decode_steps = c.steps;
  point.dtype = c.dtype;
  point.kv_dtype = c.dtype;
  point.mode = c.mode;
  point.page_size = c.page_size;
  point.logical_page_size = c.logical_page_size;
  point.token_budget = c.token_budget;
  point.reuse_interval = c.reuse_interval;
  point.gqa_selection = c.gqa;
  point.streaming_fraction = c.streaming_fraction;
  point.sink_tokens = c.sink_tokens;
  point.local_tokens = c.local_tokens;
  point.workload.name = "needle";
  point.seed = 1234 + c.context_len;
  return point;
}

Workload make_workload(const DecodeCase& c) { return generate_workload(point_of(c)); }

// The runner's plan builder, on the case's point with its KV storage format.
DecodePlan make_plan(const DecodeCase& c, const Workload& workload) {
  PointConfig point = point_of(c);
  point.kv_dtype = c.kv_storage;
  return make_decode_plan(point, workload.heads);
}

// The physical-page scores a selection row was chosen by (combined over the group in shared modes),
// recomputed with the CPU backend's functions at the selector step.
std::vector<float> selection_scores(const Workload& workload, const DecodePlan& plan, int b, int q_head,
                                    int selector_step) {
  const KeyStatsSet stats(workload, plan.geometry.logical_page_size,
                          workload.tokens_at_step(selector_step));
  const int group = workload.shape.group_size();
  const int kv_head = q_head / group;
  const auto head_dim = static_cast<size_t>(workload.shape.head_dim);
  auto scores_of = [&](int h) {
    return physical_page_scores({workload.batch[b].q_decode.row({selector_step, h}), head_dim},
                                stats.at(b, kv_head), plan.geometry);
  };
  if (plan.policy.gqa_selection == GqaSelection::per_query_head) return scores_of(q_head);
  std::vector<float> combined = scores_of(kv_head * group);
  for (int h = kv_head * group + 1; h < (kv_head + 1) * group; ++h) {
    const std::vector<float> scores = scores_of(h);
    for (size_t p = 0; p < combined.size(); ++p)
      combined[p] = plan.policy.gqa_selection == GqaSelection::kv_head_max ? std::max(combined[p], scores[p])
                                                                           : combined[p] + scores[p];
  }
  return combined;
}

// Whether every page in one selection but not the other scores within 1e-4 (relative) of the lowest
// score the CPU kept: a near-tie that fp32 rounding may legitimately order either way.
bool is_near_tie(std::span<const int32_t> cpu_pages, std::span<const int32_t> gpu_pages,
                 const std::vector<float>& scores, int last_page) {
  float threshold = INFINITY;
  for (int32_t p : cpu_pages)
    if (p != last_page) threshold = std::min(threshold, scores[p]);
  std::vector<int32_t> differing;
  std::set_symmetric_difference(cpu_pages.begin(), cpu_pages.end(), gpu_pages.begin(), gpu_pages.end(),
                                std::back_inserter(differing));
  for (int32_t p : differing)
    if (std::abs(scores[p] - threshold) > 1e-4 * std::max(std::abs(threshold), 1e-6f)) return false;
  return true;
}

class DecodeCorrectness : public ::testing::TestWithParam<DecodeCase> {};

TEST_P(DecodeCorrectness, MatchesCpuBackendAndFp64Attention) {
  UNISPARSE_SKIP_WITHOUT_GPU();
  const DecodeCase& c = GetParam();
  const Workload workload = make_workload(c);
  const DecodePlan plan = make_plan(c, workload);
  RunOptions options;
  options.measure = false;
  const DecodeRun cpu = make_cpu_backend()->decode(workload, plan, options);
  const DecodeRun gpu = make_cuda_backend()->decode(workload, plan, options);
  const bool quantized = is_quantized(c.kv_storage);
  const Workload stored = quantized ? kv_as_stored(workload, c.kv_storage) : workload;
  double worst_quantization_cost = 0;

  const int num_q_heads = c.shape.num_q_heads, head_dim = c.shape.head_dim;
  const int group = c.shape.group_size();
  ASSERT_EQ(gpu.out.size(), size_t(c.batch));
  ASSERT_EQ(gpu.selections.size(), size_t(c.steps));
  int disagreements = 0, rows = 0;
  double worst_vs_cpu = 0, worst_vs_fp64 = 0;
  for (int b = 0; b < c.batch; ++b) {
    ASSERT_EQ(gpu.out[b].shape(), (std::vector<int64_t>{c.steps, num_q_heads, head_dim}));
    for (int s = 0; s < c.steps; ++s) {
      const int num_tokens = workload.tokens_at_step(s);
      const int last_page = (num_tokens - 1) / c.page_size;
      for (int h = 0; h < num_q_heads; ++h) {
        ++rows;
        const int row = b * num_q_heads + h;
        const float* out = gpu.out[b].row({s, h});
        for (int i = 0; i < head_dim; ++i)
          ASSERT_TRUE(std::isfinite(out[i])) << c.name << " b" << b << " step " << s << " head " << h
                                             << " channel " << i << " = " << out[i];
        const auto gpu_pages = gpu.selections[s].row(row);
        const auto cpu_pages = cpu.selections[s].row(row);
        const bool same_pages = std::equal(gpu_pages.begin(), gpu_pages.end(), cpu_pages.begin(),
                                           cpu_pages.end());
        if (!same_pages) {
          ++disagreements;
          const int selector_step = s - s % c.reuse_interval;
          const std::vector<float> scores = selection_scores(workload, plan, b, h, selector_step);
          std::printf("%s: b%d step %d head %d: %zu pages on the GPU, %zu on the CPU\n", c.name.c_str(),
                      b, s, h, gpu_pages.size(), cpu_pages.size());
          ASSERT_TRUE(uses_page_selection(c.mode) &&
                      is_near_tie(cpu_pages, gpu_pages, scores, last_page))
              << c.name << ": page sets differ beyond a near-tie at b" << b << " step " << s
              << " head " << h;
        }
        // Exact expectation: fp64 attention over the tokens the GPU says it attended.
        const bool streaming = uses_streaming_heads(c.mode) && workload.heads.is_streaming(h / group);
        const std::vector<TokenRange> ranges =
            attended_ranges(streaming, workload.heads.sink_tokens, workload.heads.local_tokens,
                            c.page_size, gpu_pages, num_tokens);
        const std::span<const float> query(workload.batch[b].q_decode.row({s, h}), size_t(head_dim));
        const std::vector<double> expected =
            gpu_test::attention_over_ranges(stored, b, h / group, query, ranges);
        const double vs_fp64 =
            relative_l2(std::span<const float>(out, head_dim), std::span<const double>(expected));
        worst_vs_fp64 = std::max(worst_vs_fp64, vs_fp64);
        EXPECT_LE(vs_fp64, 5e-3) << c.name << " b" << b << " step " << s << " head " << h;
        if (quantized) {
          const std::vector<double> unquantized =
              gpu_test::attention_over_ranges(workload, b, h / group, query, ranges);
          const double cost =
              relative_l2(std::span<const float>(out, head_dim), std::span<const double>(unquantized));
          worst_quantization_cost = std::max(worst_quantization_cost, cost);
          EXPECT_LE(cost, quantization_bound(c.kv_storage))
              << c.name << " b" << b << " step " << s << " head " << h;
        }
        if (same_pages) {
          const double vs_cpu = relative_l2(std::span<const float>(out, head_dim),
                                            std::span<const float>(cpu.out[b].row({s, h}), head_dim));
          worst_vs_cpu = std::max(worst_vs_cpu, vs_cpu);
          EXPECT_LE(vs_cpu, 1e-3) << c.name << " b" << b << " step " << s << " head " << h;
        }
      }
    }
  }
  if (c.mode == SparsityMode::dense && !quantized) {  // the dense fp64 reference of the metrics
    for (int b = 0; b < c.batch; ++b) {
      const std::vector<double> reference = reference_decode(workload, b);
      const double error = relative_l2(std::span<const float>(gpu.out[b].storage()),
                                       std::span<const double>(reference));
      EXPECT_LE(error, 5e-3) << c.name << " vs reference_decode, b" << b;
    }
  }
  std::printf("%s: %d/%d rows with other pages (near-ties), worst rel L2 vs cpu %.2e, vs fp64 %.2e, "
              "quantization cost %.2e\n",
              c.name.c_str(), disagreements, rows, worst_vs_cpu, worst_vs_fp64, worst_quantization_cost);
  EXPECT_LE(disagreements, std::max(1, rows / 50)) << c.name << ": too many near-ties to be rounding";
}

using enum SparsityMode;
using enum GqaSelection;
constexpr DType kF16 = DType::fp16;
constexpr DType kBF16 = DType::bf16;

INSTANTIATE_TEST_SUITE_P(
    Cases, DecodeCorrectness,
    ::testing::Values(
        DecodeCase{"dense_ctx63_page16", {8, 2, 64}, 63, 2, 5, kF16, dense, 16, 16, 64, 4, per_query_head},
        DecodeCase{"dense_ctx4099_page32_bf16", {8, 2, 128}, 4099, 1, 4, kBF16, dense, 32, 16, 1024, 4,
                   per_query_head},
        DecodeCase{"static_ctx4099_page64", {8, 4, 128}, 4099, 2, 4, kF16, static_only, 64, 16, 1024, 4,
                   per_query_head},
        DecodeCase{"static_ctx300_sink100_local50_page16", {4, 2, 64}, 300, 1, 6, kBF16, static_only, 16,
                   16, 64, 4, per_query_head, 0.5, 100, 50},
        DecodeCase{"dynamic_ctx28837_page64_logical16_perq", {8, 2, 128}, 28837, 1, 9, kF16, dynamic_only,
                   64, 16, 2048, 4, per_query_head},
        DecodeCase{"dynamic_ctx4099_page128_logical32_kvmax_budget_above", {8, 2, 128}, 4099, 1, 4, kF16,
                   dynamic_only, 128, 32, 8192, 2, kv_head_max},
        DecodeCase{"dynamic_ctx4099_page32_logical8_kvsum", {8, 2, 64}, 4099, 2, 6, kBF16, dynamic_only, 32,
                   8, 512, 3, kv_head_sum},
        DecodeCase{"dynamic_ctx63_page16_logical8_grows_past_budget", {4, 1, 64}, 63, 2, 9, kF16,
                   dynamic_only, 16, 8, 64, 4, per_query_head},
        DecodeCase{"dynamic_budget_one_page", {4, 2, 64}, 1000, 1, 5, kF16, dynamic_only, 32, 16, 32, 2,
                   kv_head_max},
        DecodeCase{"static_dynamic_ctx28837_page128_logical32_kvmax", {8, 2, 128}, 28837, 1, 5, kBF16,
                   static_dynamic, 128, 32, 4096, 2, kv_head_max},
        DecodeCase{"static_dynamic_ctx4099_page16_logical16_kvsum", {8, 4, 128}, 4099, 1, 5, kF16,
                   static_dynamic, 16, 16, 512, 1, kv_head_sum},
        DecodeCase{"static_dynamic_llama_group4_perq", {32, 8, 128}, 4099, 2, 5, kF16, static_dynamic, 64,
                   16, 1024, 4, per_query_head},
        // Quantized KV: every format through dense, streaming and page-selected decode.
        DecodeCase{"int8_dense_ctx4099_page32", {8, 2, 128}, 4099, 2, 4, kF16, dense, 32, 16, 1024, 4,
                   per_query_head, 0.5, 128, 256, DType::int8},
        DecodeCase{"int4_dense_ctx1000_page16_d64_bf16", {8, 2, 64}, 1000, 1, 5, kBF16, dense, 16, 16,
                   256, 4, per_query_head, 0.5, 128, 256, DType::int4},
        DecodeCase{"fp8_dense_ctx4099_page128", {8, 2, 128}, 4099, 2, 4, kF16, dense, 128, 32, 1024, 4,
                   per_query_head, 0.5, 128, 256, DType::fp8},
        DecodeCase{"int4_static_ctx300_sink100_local50_page16", {4, 2, 64}, 300, 1, 6, kF16, static_only,
                   16, 16, 64, 4, per_query_head, 0.5, 100, 50, DType::int4},
        DecodeCase{"int8_static_dynamic_llama_group4_perq", {32, 8, 128}, 4099, 2, 5, kF16,
                   static_dynamic, 64, 16, 1024, 4, per_query_head, 0.5, 128, 256, DType::int8},
        DecodeCase{"int4_dynamic_ctx28837_page64_logical16_kvmax", {8, 2, 128}, 28837, 1, 9, kF16,
                   dynamic_only, 64, 16, 2048, 4, kv_head_max, 0.5, 128, 256, DType::int4},
        DecodeCase{"fp8_static_dynamic_ctx4099_page16_kvsum_bf16", {8, 4, 128}, 4099, 1, 5, kBF16,
                   static_dynamic, 16, 16, 512, 1, kv_head_sum, 0.5, 128, 256, DType::fp8},
        // Launch shapes: many splits per work item (a long context at batch 1 reaches the split
        // limit, and its merge), groups of 8 (two blocks per SM), odd logical pages per physical page,
        // head_dim 64 through the tensor-core kernel, quantized decode over many splits.
        DecodeCase{"dense_ctx100003_b1_many_splits", {8, 2, 128}, 100003, 1, 3, kF16, dense, 64, 16, 1024, 4,
                   per_query_head},
        DecodeCase{"dense_group8_ctx5000_bf16", {16, 2, 128}, 5000, 2, 3, kBF16, dense, 32, 16, 1024, 4,
                   per_query_head},
        DecodeCase{"static_dynamic_group8_kvmax", {16, 2, 128}, 6001, 1, 5, kF16, static_dynamic, 64, 16, 1024,
                   2, kv_head_max},
        DecodeCase{"dynamic_page48_logical16_kvmax", {8, 2, 128}, 6000, 1, 6, kF16, dynamic_only, 48, 16, 960, 3,
                   kv_head_max},
        DecodeCase{"dynamic_page128_logical1_kvsum_d64", {8, 2, 64}, 3000, 1, 4, kBF16, dynamic_only, 128, 1,
                   1024, 2, kv_head_sum},
        DecodeCase{"int8_dynamic_d64_page32_perq", {8, 2, 64}, 2000, 2, 5, kF16, dynamic_only, 32, 16, 512, 4,
                   per_query_head, 0.5, 128, 256, DType::int8},
        DecodeCase{"int4_dense_ctx60001_many_splits", {8, 2, 128}, 60001, 1, 3, kF16, dense, 64, 16, 1024, 4,
                   per_query_head, 0.5, 128, 256, DType::int4},
        DecodeCase{"fp8_dense_group8_ctx3000", {16, 2, 128}, 3000, 1, 3, kF16, dense, 64, 16, 1024, 4,
                   per_query_head, 0.5, 128, 256, DType::fp8}),
    [](const auto& info) { return info.param.name; });

TEST(CudaBackend, RejectsKvTypesWithoutKernels) {
  UNISPARSE_SKIP_WITHOUT_GPU();
  DecodeCase c{"fp32", {4, 2, 64}, 100, 1, 2, DType::fp16, dense, 16, 16, 64, 4, per_query_head};
  Workload workload = make_workload(c);
  workload.dtype = DType::fp32;
  RunOptions options;
  options.measure = false;
  EXPECT_THROW(make_cuda_backend()->decode(workload, make_plan(c, workload), options), Unsupported);
  workload.dtype = DType::fp16;
  DecodePlan other_float = make_plan(c, workload);
  other_float.kv_storage = DType::bf16;  // a float cache is stored in the workload's dtype only
  EXPECT_THROW(make_cuda_backend()->decode(workload, other_float, options), Unsupported);
}

TEST(CudaBackend, MeasuresEveryDecodePhase) {
  UNISPARSE_SKIP_WITHOUT_GPU();
  DecodeCase c{"timed", {32, 8, 128}, 8192, 1, 4, DType::fp16, static_dynamic, 64, 16, 2048, 4,
               per_query_head};
  const Workload workload = make_workload(c);
  RunOptions options;
  options.timing = {1, 5, 20, 0.05, true};
  const DecodeRun run = make_cuda_backend()->decode(workload, make_plan(c, workload), options);
  EXPECT_GT(run.times.total_us, 0);
  EXPECT_LE(run.times.total_min_us, run.times.total_us);
  EXPECT_GE(run.times.total_max_us, run.times.total_us);
  EXPECT_GT(run.times.iterations, 0);
  // The step replayed as one graph, by events: kernels and the gaps between them.
  EXPECT_GT(run.times.step_graph_us, 0);
  if (run.times.timer == "cupti") {
    EXPECT_GT(run.times.attention_us, 0);
    EXPECT_GT(run.times.selector_us, 0);
    EXPECT_GT(run.times.topk_us, 0);
    EXPECT_GT(run.times.merge_us, 0);
  }
  std::printf("timer %s: total %.1f us (attention %.1f, selector %.1f, topk %.1f, merge %.1f), "
              "graph replay %.1f us\n",
              run.times.timer.c_str(), run.times.total_us, run.times.attention_us, run.times.selector_us,
              run.times.topk_us, run.times.merge_us, run.times.step_graph_us);
  EXPECT_NE(make_cuda_backend()->device_name().find("SMs"), std::string::npos);
}

}  // namespace
}  // namespace unisparse
