// A decode step replayed as a CUDA graph against the same step launched kernel by kernel: the same
// kernels with the same parameters in the same dependency order, so the outputs and the attended
// pages must be equal bit for bit, at every step, in every sparsity mode (the streaming pool's
// branch included), for 16-bit and quantized KV. Also: one instantiated graph per launch key is
// updated in place from step to step, and replaying a step's graph again (what the timing does)
// leaves its outputs unchanged.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "framework/sparse/plan.h"
#include "framework/workload/generator.h"
#include "kernels/common/cuda_check.h"
#include "kernels/decode/decode_runner.h"
#include "tests/gpu/gpu_test_util.h"

namespace unisparse {
namespace {

struct GraphCase {
  std::string name;
  ModelShape shape;
  int context_len;
  int batch;
  int steps;
  SparsityMode mode;
  int page_size;
  int logical_page_size;
  int token_budget;
  int reuse_interval;
  GqaSelection gqa;
  DType kv_storage;  // fp32: the workload's dtype
};

// The case as a sweep point: its workload and, through make_decode_plan, its plan.
PointConfig point_of(const GraphCase& c) {
  PointConfig point;
  point.shape = c.shape;
  point.context_len = c.context_len;
  point.batch = c.batch;
  point.decode_steps = c.steps;
  point.mode = c.mode;
  point.streaming_fraction = 0.5;
  point.sink_tokens = 64;
  point.local_tokens = 200;
  point.workload.name = "needle";
  point.seed = 99 + c.context_len;
  return point;
}

Workload make_workload(const GraphCase& c) { return generate_workload(point_of(c)); }

// The runner's plan builder, on the case's point with its paging, budget and KV storage format.
DecodePlan make_plan(const GraphCase& c, const Workload& workload) {
  PointConfig point = point_of(c);
  point.page_size = c.page_size;
  point.logical_page_size = c.logical_page_size;
  point.token_budget = c.token_budget;
  point.reuse_interval = c.reuse_interval;
  point.gqa_selection = c.gqa;
  point.kv_dtype = c.kv_storage;
  return make_decode_plan(point, workload.heads);
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class DecodeGraph : public ::testing::TestWithParam<GraphCase> {};

TEST_P(DecodeGraph, ReplayEqualsEagerLaunchesBitForBit) {
  UNISPARSE_SKIP_WITHOUT_GPU();
  const GraphCase& c = GetParam();
  const Workload workload = make_workload(c);
  const DecodePlan plan = make_plan(c, workload);
  cudaStream_t stream = nullptr;
  UNISPARSE_CUDA_CHECK(cudaStreamCreate(&stream));
  RunOptions options;
  options.measure = false;
  {
    cuda::DecodeRunner eager(workload, plan, stream, options);
    cuda::DecodeRunner graph(workload, plan, stream, options);
    std::set<cuda::StepLaunches> keys;
    for (int step = 0; step < c.steps; ++step) {
      const bool select = eager.selector_runs_at(step);
      eager.enqueue_step(step, select);
      graph.capture_step_graph(step, select);
      graph.launch_step_graph(step, select);
      keys.insert(graph.launches_at(step, select));
      const Csr eager_pages = eager.attended_pages(step), graph_pages = graph.attended_pages(step);
      EXPECT_EQ(eager_pages, graph_pages) << c.name << ": step " << step << " attends other pages in the graph";
    }
    const std::vector<Tensor> eager_out = eager.outputs(), graph_out = graph.outputs();
    ASSERT_EQ(eager_out.size(), graph_out.size());
    for (size_t b = 0; b < eager_out.size(); ++b)
      EXPECT_TRUE(bit_equal(eager_out[b], graph_out[b])) << c.name << ": sequence " << b;
    // One graph per launch key; the other steps updated it in place.
    EXPECT_EQ(graph.step_graphs().instantiations(), int(keys.size())) << c.name;
    EXPECT_EQ(graph.step_graphs().updates(), c.steps - int(keys.size())) << c.name;

    // The timing replays the last step again and again: the cache and the outputs stay as they were.
    const int last = c.steps - 1;
    const bool select = graph.selector_runs_at(last);
    for (int replay = 0; replay < 3; ++replay) graph.launch_step_graph(last, select);
    const std::vector<Tensor> replayed = graph.outputs();
    for (size_t b = 0; b < replayed.size(); ++b)
      EXPECT_TRUE(bit_equal(replayed[b], eager_out[b])) << c.name << ": sequence " << b << " after replays";
    // Step 0's parameters are no longer in any graph (every case captures its key again later):
    // launching it without capturing it is an error.
    EXPECT_THROW(graph.launch_step_graph(0, graph.selector_runs_at(0)), std::logic_error);
  }
  UNISPARSE_CUDA_CHECK(cudaStreamDestroy(stream));
}

using enum SparsityMode;
using enum GqaSelection;

INSTANTIATE_TEST_SUITE_P(
    Cases, DecodeGraph,
    ::testing::Values(
        GraphCase{"dense_ctx4099_b2", {8, 2, 128}, 4099, 2, 4, dense, 64, 16, 1024, 4, per_query_head,
                  DType::fp32},
        GraphCase{"static_dynamic_perq_ctx5000", {32, 8, 128}, 5000, 1, 9, static_dynamic, 64, 16, 1024, 4,
                  per_query_head, DType::fp32},
        GraphCase{"dynamic_kvmax_ctx63_grows", {8, 2, 64}, 63, 2, 9, dynamic_only, 16, 8, 64, 2, kv_head_max,
                  DType::fp32},
        GraphCase{"static_int4_ctx1000", {8, 2, 128}, 1000, 1, 5, static_only, 32, 16, 256, 4, per_query_head,
                  DType::int4},
        GraphCase{"static_dynamic_int8_kvsum", {8, 4, 128}, 3000, 1, 6, static_dynamic, 32, 16, 512, 3,
                  kv_head_sum, DType::int8}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace unisparse
