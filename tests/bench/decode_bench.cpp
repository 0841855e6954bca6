// Microbenchmarks of one steady-state decode step of the cuda backend on llama3-8b shapes (32 q / 8
// kv heads, d128, fp16): dense decode and static+dynamic sparse decode (50% streaming heads, sink 128
// + local 256, page 64, logical 16, budget 4096, reuse 4). Manual time = the backend's median step
// time (CUPTI kernel durations, L2 flushed, selector amortised over the reuse interval); counters give
// the model bytes (each attended K/V element and each key statistic read once) and achieved GB/s,
// the selector's share of the step, and the step replayed as one CUDA graph (step_graph_us, CUDA
// events: kernels plus the gaps between them). main() comes from benchmark::benchmark_main.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "framework/core/dtype.h"
#include "framework/core/parallel.h"
#include "kernels/api.h"

namespace unisparse {
namespace {

constexpr int kQHeads = 32, kKvHeads = 8, kHeadDim = 128;
constexpr int kSteps = 4;

// Gaussian values rounded to fp16, drawn from a fixed table by a hash of the index: fast enough to
// fill 128k x 16 sequences, and never zeros (zeros can time faster than data).
void fill(Tensor& tensor, uint64_t seed) {
  static const std::vector<float> table = [] {
    std::vector<float> values(1 << 16);
    std::mt19937_64 rng(7);
    std::normal_distribution<float> normal(0.f, 1.f);
    for (float& v : values) v = round_to_dtype(normal(rng), DType::fp16);
    return values;
  }();
  float* data = tensor.data();
  const int64_t size = tensor.size();
  constexpr int64_t kChunk = 1 << 20;
  parallel_for(ceil_div(size, kChunk), [&](int64_t chunk) {
    for (int64_t i = chunk * kChunk; i < std::min(size, (chunk + 1) * kChunk); ++i) {
      uint64_t h = (uint64_t(i) + seed) * 0x9E3779B97F4A7C15ull;
      h ^= h >> 29;
      data[i] = table[h & 0xFFFF];
    }
  });
}

Workload random_workload(int context_len, int batch, double streaming_fraction) {
  Workload workload;
  workload.name = "bench_random";
  workload.shape = {kQHeads, kKvHeads, kHeadDim};
  workload.heads = HeadLayout::with_streaming_fraction(kKvHeads, streaming_fraction, 128, 256);
  workload.context_len = context_len;
  workload.decode_steps = kSteps;
  workload.dtype = DType::fp16;
  for (int b = 0; b < batch; ++b) {
    Sequence s;
    s.k = Tensor({kKvHeads, context_len, kHeadDim});
    s.v = Tensor({kKvHeads, context_len, kHeadDim});
    s.q_decode = Tensor({kSteps, kQHeads, kHeadDim});
    s.k_decode = Tensor({kSteps, kKvHeads, kHeadDim});
    s.v_decode = Tensor({kSteps, kKvHeads, kHeadDim});
    uint64_t seed = 1000 * b;
    for (Tensor* t : {&s.k, &s.v, &s.q_decode, &s.k_decode, &s.v_decode}) fill(*t, ++seed);
    workload.batch.push_back(std::move(s));
  }
  return workload;
}

void run_decode(benchmark::State& state, SparsityMode mode) {
  const int context_len = static_cast<int>(state.range(0));
  const int batch = static_cast<int>(state.range(1));
  const bool sparse = mode != SparsityMode::dense;
  const Workload workload = random_workload(context_len, batch, sparse ? 0.5 : 0.0);
  DecodePlan plan;
  plan.mode = mode;
  plan.heads = workload.heads;
  plan.geometry = {64, 16};
  plan.policy = {4096, 4, GqaSelection::per_query_head};
  RunOptions options;
  options.timing = {3, 20, 200, 0.01, true};
  const DecodeRun run = make_cuda_backend()->decode(workload, plan, options);

  // Model bytes of one step at n tokens: K and V of every attended token of every KV head, plus for
  // dense heads under selection the fp16 kmax/kmin of every logical page, once per reuse interval.
  const int64_t n = context_len + kSteps;
  const int streaming_heads = sparse ? workload.heads.num_streaming() : 0;
  const int dense_heads = kKvHeads - streaming_heads;
  const int64_t dense_tokens = sparse ? std::min<int64_t>(n, 4096 + 64) : n;
  const int64_t streaming_tokens = std::min<int64_t>(n, 128 + 256);
  double bytes = double(batch) * kHeadDim * 2 * 2 *
                 (double(dense_heads) * dense_tokens + double(streaming_heads) * streaming_tokens);
  if (sparse) bytes += double(batch) * dense_heads * (n / 16) * kHeadDim * 2 * 2 / plan.policy.reuse_interval;
  for (auto _ : state) state.SetIterationTime(run.times.total_us * 1e-6);
  state.counters["bytes_model"] = bytes;
  state.counters["achieved_GBps"] = bytes / (run.times.total_us * 1e-6) / 1e9;
  state.counters["attention_us"] = run.times.attention_us;
  // The step replayed as one CUDA graph, timed by events: the kernels and the gaps between them.
  state.counters["step_graph_us"] = run.times.step_graph_us;
  state.counters["selector_share"] =
      sparse ? (run.times.selector_us + run.times.topk_us) / run.times.total_us : 0.0;
  state.counters["flops_model"] = double(batch) * kQHeads * 4.0 * kHeadDim *
                                  (sparse ? (dense_tokens + streaming_tokens) / 2.0 : double(n));
  state.SetLabel(run.times.timer);
}

void BM_DenseDecode(benchmark::State& state) { run_decode(state, SparsityMode::dense); }
void BM_StaticDynamicDecode(benchmark::State& state) { run_decode(state, SparsityMode::static_dynamic); }

void decode_shapes(benchmark::internal::Benchmark* b) {
  b->Args({32768, 1})->Args({131072, 1})->Args({32768, 16})->Args({131072, 16})->Args({524288, 1});
  b->ArgNames({"context", "batch"})->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_DenseDecode)->Apply(decode_shapes);
BENCHMARK(BM_StaticDynamicDecode)->Apply(decode_shapes);

}  // namespace
}  // namespace unisparse
