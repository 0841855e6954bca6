// Microbenchmarks of the CUDA block-sparse prefill kernels on llama3-8b shapes (32 q / 8 kv heads,
// d128, bf16): dense causal, 50% streaming heads and all heads streaming, each on the sm_80 kernel
// and the sm_90a kernel (UNISPARSE_PREFILL_KERNEL forced per benchmark; the label names the path that
// ran, and the sm90 rows are skipped with the reason on a device other than compute capability 9.0).
// Manual time from CUDA events around each launch; counters give the model FLOPs (4 * d per attended
// (query, key) pair), achieved TFLOP/s and the share of KV tiles the kernel visits relative to dense
// causal, with each kernel's tile (64 keys for sm80, a whole block for sm90).
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include "framework/core/dtype.h"
#include "framework/core/types.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/device_buffer.h"
#include "kernels/prefill/prefill_kernel_path.h"
#include "kernels/prefill/prefill_launch.h"

namespace unisparse {
namespace {

constexpr int kQHeads = 32, kKvHeads = 8, kHeadDim = 128;

// Attended (query, key) pairs of one head: causal, and for streaming heads sink + local window.
double attended_pairs(int seq_len, bool streaming, int sink, int local) {
  double pairs = 0;
  for (int64_t query = 0; query < seq_len; ++query) {
    if (!streaming) {
      pairs += double(query + 1);
      continue;
    }
    const int64_t window = std::min<int64_t>(query + 1, local);
    pairs += double(window + std::min<int64_t>(sink, query + 1 - window));
  }
  return pairs;
}

// KV tiles of tile_keys keys the kernel visits for one head (mirrors the kernels' active-tile rule).
double visited_tiles(int seq_len, int block_size, int tile_keys, bool streaming, int sink, int local) {
  double tiles = 0;
  for (int begin = 0; begin < seq_len; begin += block_size) {
    const int last = std::min(begin + block_size, seq_len) - 1;
    const int diagonal_tiles = last / tile_keys + 1;
    if (!streaming) {
      tiles += diagonal_tiles;
      continue;
    }
    const int sink_tiles = (std::min(sink, last + 1) + tile_keys - 1) / tile_keys;
    const int local_first = std::max(std::max(0, begin - local + 1) / tile_keys, sink_tiles);
    tiles += sink_tiles + std::max(0, diagonal_tiles - local_first);
  }
  return tiles;
}

std::vector<uint16_t> random_bf16(int64_t count, uint64_t seed) {
  std::vector<uint16_t> bits(static_cast<size_t>(count));
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<uint16_t> pool(1 << 16);
  for (uint16_t& b : pool) b = float_to_bf16_bits(normal(rng));
  for (int64_t i = 0; i < count; ++i) bits[i] = pool[rng() & 0xffff];
  return bits;
}

// args: context, block size, streaming share of heads (percent), sink, local, kernel (80 or 90).
void BM_Prefill(benchmark::State& state) {
  const int seq_len = int(state.range(0)), block_size = int(state.range(1));
  const int streaming_percent = int(state.range(2)), sink = int(state.range(3)), local = int(state.range(4));
  const bool sm90 = state.range(5) == 90;
  int device_count = 0;
  if (cudaGetDeviceCount(&device_count) != cudaSuccess || device_count == 0) {
    state.SkipWithError("no CUDA device");
    return;
  }
  setenv(cuda::kPrefillKernelVariable, sm90 ? "sm90" : "sm80", 1);
  const int tile_keys = sm90 ? block_size : 64;
  const int64_t q_count = int64_t{kQHeads} * seq_len * kHeadDim;
  const int64_t kv_count = int64_t{kKvHeads} * seq_len * kHeadDim;
  cuda::DeviceBuffer<uint16_t> q, k, v;
  q.upload(random_bf16(q_count, 1));
  k.upload(random_bf16(kv_count, 2));
  v.upload(random_bf16(kv_count, 3));
  cuda::DeviceBuffer<float> out(static_cast<size_t>(q_count));

  // Streaming KV heads as the sweeps place them; a KV head's query group shares its mode.
  const HeadLayout layout =
      HeadLayout::with_streaming_fraction(kKvHeads, streaming_percent / 100.0, sink, local);
  std::vector<int8_t> modes(kQHeads);
  double pairs = 0, tiles = 0, dense_tiles = 0;
  for (int h = 0; h < kQHeads; ++h) {
    const int kv_head = h / (kQHeads / kKvHeads);
    const bool streaming = layout.is_streaming(kv_head);
    modes[h] = streaming ? int8_t(cuda::PrefillTileMode::streaming) : int8_t(cuda::PrefillTileMode::dense_causal);
    pairs += attended_pairs(seq_len, streaming, sink, local);
    tiles += visited_tiles(seq_len, block_size, tile_keys, streaming, sink, local);
    dense_tiles += visited_tiles(seq_len, block_size, tile_keys, false, sink, local);
  }
  cuda::DeviceBuffer<int8_t> head_mode;
  head_mode.upload(modes);

  cuda::PrefillParams params{};
  params.q = q.data();
  params.k = k.data();
  params.v = v.data();
  params.out = out.data();
  params.q_row_stride = params.kv_row_stride = params.out_row_stride = kHeadDim;
  params.q_head_stride = params.kv_head_stride = params.out_head_stride = int64_t{seq_len} * kHeadDim;
  params.q_batch_stride = params.out_batch_stride = q_count;
  params.kv_batch_stride = kv_count;
  params.seq_len = seq_len;
  params.num_q_heads = kQHeads;
  params.group_size = kQHeads / kKvHeads;
  params.block_size = block_size;
  params.num_q_blocks = (seq_len + block_size - 1) / block_size;
  params.head_mode = reinterpret_cast<const cuda::PrefillTileMode*>(head_mode.data());
  params.sink_tokens = sink;
  params.local_tokens = local;
  params.softmax_scale_log2 = float(1.4426950408889634 / std::sqrt(double(kHeadDim)));

  // The first launch decides the path (a forced sm90 that cannot run here throws Unsupported).
  cuda::PrefillKernelPath path;
  try {
    path = cuda::launch_block_sparse_prefill(params, DType::bf16, kHeadDim, 1, nullptr);
  } catch (const std::exception& error) {
    state.SkipWithError(error.what());
    return;
  }
  state.SetLabel(cuda::to_string(path));
  cudaEvent_t start, stop;
  UNISPARSE_CUDA_CHECK(cudaEventCreate(&start));
  UNISPARSE_CUDA_CHECK(cudaEventCreate(&stop));
  cuda::launch_block_sparse_prefill(params, DType::bf16, kHeadDim, 1, nullptr);
  UNISPARSE_CUDA_CHECK(cudaDeviceSynchronize());
  for (auto _ : state) {
    UNISPARSE_CUDA_CHECK(cudaEventRecord(start));
    cuda::launch_block_sparse_prefill(params, DType::bf16, kHeadDim, 1, nullptr);
    UNISPARSE_CUDA_CHECK(cudaEventRecord(stop));
    UNISPARSE_CUDA_CHECK(cudaEventSynchronize(stop));
    float milliseconds = 0;
    UNISPARSE_CUDA_CHECK(cudaEventElapsedTime(&milliseconds, start, stop));
    state.SetIterationTime(milliseconds / 1e3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  const double flops = 4.0 * kHeadDim * pairs;
  state.counters["flops_model"] = flops;
  state.counters["TFLOPs"] = benchmark::Counter(flops / 1e12, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["active_tile_share"] = tiles / dense_tiles;
}

void prefill_args(benchmark::internal::Benchmark* bench) {
  bench->ArgNames({"context", "block", "streaming_pct", "sink", "local", "kernel"});
  for (int context : {32768, 131072})
    for (int block : {64, 128})
      for (int kernel : {80, 90}) {
        bench->Args({context, block, 0, 128, 4096, kernel});     // dense causal
        bench->Args({context, block, 50, 128, 4096, kernel});    // half the KV heads streaming
        bench->Args({context, block, 100, 128, 4096, kernel});   // all heads streaming
        bench->Args({context, block, 100, 128, 1024, kernel});
      }
}

BENCHMARK(BM_Prefill)->Apply(prefill_args)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(0.5);

}  // namespace
}  // namespace unisparse

// main() comes from benchmark::benchmark_main (tests/CMakeLists.txt).
