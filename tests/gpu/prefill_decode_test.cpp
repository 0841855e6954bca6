// Prefill then decode on the GPU: a decode run whose KV cache is filled by running the CUDA prefill
// over the prompt (cache_fill=prefill) against the same run filled from the host (cache_fill=upload,
// the trusted path). Both write the cache with the same scatter and statistics kernels from the same
// values, so the cache bytes, the statistics and the fp8 scales must be equal, and with them the
// decode outputs and the attended page sets, bit for bit. Covered: dense, static, dynamic and
// static+dynamic modes; fp16 and bf16; KV stored in the workload dtype, int8, int4 and fp8; odd
// context lengths (63, 1000, 4099); page sizes 16 to 128. The prefill's own output (not read by
// decode) must be finite: the runner checks that and throws otherwise.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "framework/config/sweep_config.h"
#include "framework/core/dtype.h"
#include "framework/core/kv_quant.h"
#include "framework/sparse/plan.h"
#include "framework/sweep/runner.h"
#include "kernels/api.h"
#include "kernels/cache/paged_kv_cache.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/device_buffer.h"
#include "tests/gpu/gpu_test_util.h"

namespace unisparse {
namespace {

using cuda::DeviceBuffer;
using cuda::PagedKvCache;
using cuda::PoolKind;
using cuda::PoolShape;

// ---------------------------------------------------------------------------------------------
// The cache write itself: write_prefill (host fp32 rows) and write_prefill_from_device (16-bit rows
// on the device, with a token stride wider than head_dim) into two caches of the same shape and seed.

struct CacheCase {
  std::string name;
  DType dtype;
  DType storage;
  PoolKind kind;
  int head_dim;
  int page_size;
  int logical_page_size;  // dense pools: statistics granularity
  int num_tokens;
};

template <class T>
std::vector<T> download(const T* device, size_t count) {
  std::vector<T> host(count);
  if (count)
    UNISPARSE_CUDA_CHECK(cudaMemcpy(host.data(), device, count * sizeof(T), cudaMemcpyDeviceToHost));
  return host;
}

// Every byte a cache holds: K/V rows, (scale, zero) pairs, fp8 row scales and key statistics, in
// buffer order.
struct CacheBytes {
  std::map<std::string, std::vector<uint8_t>> buffers;
};

template <class KvType>
CacheBytes cache_bytes(PagedKvCache& cache) {
  const cuda::PagedKvView<KvType> view = cache.view<KvType>();
  const PoolShape& shape = cache.shape();
  const size_t slots = size_t(shape.rows) * shape.pages_per_row() * shape.page_size;
  const size_t stats = size_t(shape.rows) * shape.head_dim * shape.logical_pages_per_row();
  const auto bytes = [](const void* device, size_t count) {
    return download(static_cast<const uint8_t*>(device), count);
  };
  CacheBytes out;
  out.buffers["keys"] = bytes(view.keys, slots * view.row_bytes);
  out.buffers["values"] = bytes(view.values, slots * view.row_bytes);
  if (view.maybe_key_params) {
    out.buffers["key_params"] = bytes(view.maybe_key_params, slots * sizeof(float2));
    out.buffers["value_params"] = bytes(view.maybe_value_params, slots * sizeof(float2));
  }
  if (view.maybe_key_row_scale) {
    out.buffers["key_row_scale"] = bytes(view.maybe_key_row_scale, shape.rows * sizeof(float));
    out.buffers["value_row_scale"] = bytes(view.maybe_value_row_scale, shape.rows * sizeof(float));
  }
  if (view.maybe_key_max) {
    out.buffers["key_max"] = bytes(view.maybe_key_max, stats * sizeof(KvType));
    out.buffers["key_min"] = bytes(view.maybe_key_min, stats * sizeof(KvType));
  }
  return out;
}

// The same poison in both caches, so that slots neither write reaches compare equal.
template <class KvType>
void poison(PagedKvCache& cache) {
  const cuda::PagedKvView<KvType> view = cache.view<KvType>();
  const PoolShape& shape = cache.shape();
  const size_t slots = size_t(shape.rows) * shape.pages_per_row() * shape.page_size;
  const size_t stats = size_t(shape.rows) * shape.head_dim * shape.logical_pages_per_row();
  UNISPARSE_CUDA_CHECK(cudaMemset(view.keys, 0x5a, slots * view.row_bytes));
  UNISPARSE_CUDA_CHECK(cudaMemset(view.values, 0x5a, slots * view.row_bytes));
  if (view.maybe_key_params) {
    UNISPARSE_CUDA_CHECK(cudaMemset(view.maybe_key_params, 0x5a, slots * sizeof(float2)));
    UNISPARSE_CUDA_CHECK(cudaMemset(view.maybe_value_params, 0x5a, slots * sizeof(float2)));
  }
  if (view.maybe_key_row_scale) {
    UNISPARSE_CUDA_CHECK(cudaMemset(view.maybe_key_row_scale, 0x5a, shape.rows * sizeof(float)));
    UNISPARSE_CUDA_CHECK(cudaMemset(view.maybe_value_row_scale, 0x5a, shape.rows * sizeof(float)));
  }
  if (view.maybe_key_max) {
    UNISPARSE_CUDA_CHECK(cudaMemset(view.maybe_key_max, 0x5a, stats * sizeof(KvType)));
    UNISPARSE_CUDA_CHECK(cudaMemset(view.maybe_key_min, 0x5a, stats * sizeof(KvType)));
  }
}

// Rows [num_tokens, head_dim] in dtype: Gaussian with a per-token spread, plus a constant token, a
// zero token and one large value, so that int8/int4 meet their constant-row rule and the fp8 scale
// comes from a single element.
std::vector<float> make_rows(int num_tokens, int head_dim, DType dtype, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> rows(size_t(num_tokens) * head_dim);
  for (int t = 0; t < num_tokens; ++t) {
    const float spread = 0.25f + float(t % 7);
    for (int c = 0; c < head_dim; ++c) rows[size_t(t) * head_dim + c] = spread * normal(rng);
  }
  for (int c = 0; c < head_dim && num_tokens > 2; ++c) {
    rows[size_t(1) * head_dim + c] = 1.5f;
    rows[size_t(2) * head_dim + c] = 0.0f;
  }
  rows[size_t(num_tokens / 2) * head_dim + head_dim / 3] = -97.0f;
  round_to_dtype(rows, dtype);
  return rows;
}

// Rows [num_tokens, token_stride] of 16-bit bits, channels [0, head_dim) from `rows`, the padding
// filled with a value that must never be read.
std::vector<uint16_t> strided_bits(const std::vector<float>& rows, int head_dim, int token_stride,
                                   DType dtype) {
  const int num_tokens = static_cast<int>(rows.size() / head_dim);
  const uint16_t padding = dtype == DType::bf16 ? float_to_bf16_bits(NAN) : float_to_half_bits(NAN);
  std::vector<uint16_t> bits(size_t(num_tokens) * token_stride, padding);
  for (int t = 0; t < num_tokens; ++t)
    for (int c = 0; c < head_dim; ++c) {
      const float x = rows[size_t(t) * head_dim + c];
      bits[size_t(t) * token_stride + c] = dtype == DType::bf16 ? float_to_bf16_bits(x) : float_to_half_bits(x);
    }
  return bits;
}

class CacheWriteFromDevice : public ::testing::TestWithParam<CacheCase> {};

TEST_P(CacheWriteFromDevice, EqualsTheHostWriteByteForByte) {
  UNISPARSE_SKIP_WITHOUT_GPU();
  const CacheCase& c = GetParam();
  constexpr int kRows = 3;
  const int capacity = c.num_tokens + 5;
  const bool dense = c.kind == PoolKind::dense;
  const PoolShape shape{c.kind, kRows, c.head_dim, c.page_size, capacity, dense ? 0 : 20,
                        dense ? 0 : 50, dense ? c.logical_page_size : 0};
  PagedKvCache from_host(c.dtype, c.storage, shape, 7), from_device(c.dtype, c.storage, shape, 7);
  const int token_stride = c.head_dim + 8;
  cudaStream_t stream = nullptr;
  UNISPARSE_CUDA_CHECK(cudaStreamCreate(&stream));
  const auto run = [&](auto element) {
    using KvType = decltype(element);
    poison<KvType>(from_host);
    poison<KvType>(from_device);
    std::vector<DeviceBuffer<uint16_t>> sources;  // alive until the stream has run
    for (int row = 0; row < kRows; ++row) {
      const std::vector<float> keys = make_rows(c.num_tokens, c.head_dim, c.dtype, 100 + row);
      const std::vector<float> values = make_rows(c.num_tokens, c.head_dim, c.dtype, 200 + row);
      from_host.write_prefill(row, keys.data(), values.data(), c.num_tokens, stream);
      sources.emplace_back().upload(strided_bits(keys, c.head_dim, token_stride, c.dtype));
      sources.emplace_back().upload(strided_bits(values, c.head_dim, token_stride, c.dtype));
      from_device.write_prefill_from_device(row, sources[sources.size() - 2].data(),
                                            sources.back().data(), c.dtype, c.num_tokens,
                                            token_stride, stream);
    }
    UNISPARSE_CUDA_CHECK(cudaStreamSynchronize(stream));
    const CacheBytes expected = cache_bytes<KvType>(from_host), got = cache_bytes<KvType>(from_device);
    ASSERT_EQ(expected.buffers.size(), got.buffers.size());
    for (const auto& [name, bytes] : expected.buffers) {
      const std::vector<uint8_t>& other = got.buffers.at(name);
      ASSERT_EQ(bytes.size(), other.size()) << name;
      size_t differing = 0, first = bytes.size();
      for (size_t i = 0; i < bytes.size(); ++i)
        if (bytes[i] != other[i]) {
          ++differing;
          first = std::min(first, i);
        }
      EXPECT_EQ(differing, 0u) << c.name << ": " << name << " differs in " << differing << " of "
                               << bytes.size() << " bytes, first at byte " << first;
    }
  };
  if (c.dtype == DType::bf16)
    run(__nv_bfloat16{});
  else
    run(__half{});
  cudaStreamDestroy(stream);
}

std::vector<CacheCase> cache_cases() {
  std::vector<CacheCase> cases;
  int index = 0;
  for (DType storage : {DType::fp32, DType::int8, DType::int4, DType::fp8})
    for (DType dtype : {DType::fp16, DType::bf16})
      for (PoolKind kind : {PoolKind::dense, PoolKind::streaming}) {
        const int page_size = 16 << (index % 4);
        const int num_tokens = index % 3 == 0 ? 63 : index % 3 == 1 ? 1000 : 4099;
        const int head_dim = index % 2 == 0 ? 128 : 64;
        const DType stored = storage == DType::fp32 ? dtype : storage;
        const std::string name = std::string(to_string(stored)) + "_" + std::string(to_string(dtype)) +
                                 (kind == PoolKind::dense ? "_dense" : "_streaming") + "_page" +
                                 std::to_string(page_size) + "_d" + std::to_string(head_dim) + "_T" +
                                 std::to_string(num_tokens);
        cases.push_back({name, dtype, stored, kind, head_dim, page_size, std::max(8, page_size / 4),
                         num_tokens});
        ++index;
      }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Formats, CacheWriteFromDevice, ::testing::ValuesIn(cache_cases()),
                         [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------------
// Decode with the cache filled by the prefill against decode with the cache uploaded.

struct PrefillDecodeCase {
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
  DType kv_storage;  // a quantized format, or fp32 for the workload's dtype
  int prefill_block_size;
  int sink_tokens;
  int local_tokens;
};

// The case as a sweep point: its workload and, through make_decode_plan, its plan.
PointConfig point_of(const PrefillDecodeCase& c) {
  PointConfig point;
  point.shape = c.shape;
  point.context_len = c.context_len;
  point.batch = c.batch;
  point.decode_steps = c.steps;
  point.dtype = c.dtype;
  point.kv_dtype = c.dtype;
  point.mode = c.mode;
  point.streaming_fraction = 0.5;
  point.sink_tokens = c.sink_tokens;
  point.local_tokens = c.local_tokens;
  point.cache_fill = CacheFill::prefill;  // the workload carries the prompt's queries
  point.workload.name = "needle";
  point.seed = 4321 + c.context_len;
  return point;
}

Workload make_workload(const PrefillDecodeCase& c) { return generate_workload(point_of(c)); }

// The runner's plan builder, on the case's point with its paging, KV storage and cache fill.
DecodePlan make_plan(const PrefillDecodeCase& c, const Workload& workload, CacheFill fill) {
  PointConfig point = point_of(c);
  point.page_size = c.page_size;
  point.logical_page_size = c.logical_page_size;
  point.token_budget = c.token_budget;
  point.reuse_interval = c.reuse_interval;
  point.gqa_selection = c.gqa;
  point.kv_dtype = c.kv_storage;
  point.cache_fill = fill;
  point.block_size = c.prefill_block_size;
  return make_decode_plan(point, workload.heads);
}

// Index of the first float whose bits differ, or -1.
int64_t first_bit_difference(const Tensor& a, const Tensor& b) {
  if (a.size() != b.size()) return 0;
  for (int64_t i = 0; i < a.size(); ++i)
    if (std::memcmp(a.data() + i, b.data() + i, sizeof(float)) != 0) return i;
  return -1;
}

class PrefillThenDecode : public ::testing::TestWithParam<PrefillDecodeCase> {};

TEST_P(PrefillThenDecode, EqualsDecodeFromTheUploadedCacheBitForBit) {
  UNISPARSE_SKIP_WITHOUT_GPU();
  const PrefillDecodeCase& c = GetParam();
  const Workload workload = make_workload(c);
  ASSERT_EQ(workload.batch.front().q.shape(),
            (std::vector<int64_t>{c.shape.num_q_heads, c.context_len, c.shape.head_dim}));
  RunOptions options;
  options.measure = false;
  const auto backend = make_cuda_backend();
  const DecodeRun uploaded = backend->decode(workload, make_plan(c, workload, CacheFill::upload), options);
  DecodeRun prefilled;
  // The runner throws when the prefill's output is not finite.
  ASSERT_NO_THROW(prefilled = backend->decode(workload, make_plan(c, workload, CacheFill::prefill), options))
      << c.name;

  ASSERT_EQ(prefilled.out.size(), uploaded.out.size());
  for (size_t b = 0; b < uploaded.out.size(); ++b) {
    ASSERT_EQ(prefilled.out[b].shape(), uploaded.out[b].shape());
    const int64_t at = first_bit_difference(prefilled.out[b], uploaded.out[b]);
    EXPECT_EQ(at, -1) << c.name << " b" << b << ": output " << at << " is "
                      << (at >= 0 ? prefilled.out[b].data()[at] : 0.f) << " after the prefill, "
                      << (at >= 0 ? uploaded.out[b].data()[at] : 0.f) << " after the upload";
    for (float x : uploaded.out[b].storage()) ASSERT_TRUE(std::isfinite(x)) << c.name;
  }
  ASSERT_EQ(prefilled.selections.size(), uploaded.selections.size());
  for (size_t s = 0; s < uploaded.selections.size(); ++s) {
    const Csr& got = prefilled.selections[s];
    const Csr& expected = uploaded.selections[s];
    ASSERT_EQ(got.rows(), expected.rows());
    for (int row = 0; row < expected.rows(); ++row) {
      const auto got_pages = got.row(row), expected_pages = expected.row(row);
      EXPECT_TRUE(std::equal(got_pages.begin(), got_pages.end(), expected_pages.begin(),
                             expected_pages.end()))
          << c.name << ": step " << s << " row " << row << ": " << got_pages.size() << " pages after "
          << "the prefill, " << expected_pages.size() << " after the upload";
    }
  }
  EXPECT_TRUE(std::isnan(prefilled.times.prefill_us));  // not measured
}

std::vector<PrefillDecodeCase> prefill_decode_cases() {
  using enum SparsityMode;
  using enum GqaSelection;
  std::vector<PrefillDecodeCase> cases;
  const int contexts[] = {63, 1000, 4099};
  const GqaSelection selections[] = {per_query_head, kv_head_max, kv_head_sum};
  int index = 0;
  for (SparsityMode mode : {dense, static_only, dynamic_only, static_dynamic})
    for (DType kv_storage : {DType::fp32, DType::int8, DType::int4, DType::fp8})
      for (DType dtype : {DType::fp16, DType::bf16}) {
        const int context = contexts[index % 3];
        const int page_size = 16 << ((index / 3) % 4);
        const int logical = std::max(8, page_size / 4);
        // Four pages of budget: below the context at 1000 and 4099 tokens, above it at 63.
        const int budget = 4 * page_size;
        // Every fourth case has the llama3-8b head layout; the others a smaller group.
        const ModelShape shape = index % 4 == 3 ? ModelShape{32, 8, 128}
                                 : index % 2 == 0 ? ModelShape{8, 2, 128}
                                                  : ModelShape{8, 4, 64};
        const int steps = 3 + index % 5;
        const int block = index % 2 == 0 ? 64 : 128;
        // Windows that split pages and prefill blocks; at 63 tokens the window covers the prompt.
        const int sink = index % 2 == 0 ? 37 : 128, local = index % 2 == 0 ? 203 : 256;
        const DType stored = kv_storage == DType::fp32 ? dtype : kv_storage;
        const std::string name = std::string(to_string(mode) == "static+dynamic" ? "static_dynamic"
                                                                                  : to_string(mode)) +
                                 "_" + std::string(to_string(stored)) + "_" +
                                 std::string(to_string(dtype)) + "_ctx" + std::to_string(context) +
                                 "_page" + std::to_string(page_size) + "_block" + std::to_string(block);
        cases.push_back({name, shape, context, index % 3 == 1 ? 2 : 1, steps, dtype, mode, page_size,
                         logical, budget, 1 + index % 4, selections[index % 3], kv_storage, block, sink,
                         local});
        ++index;
      }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Cases, PrefillThenDecode, ::testing::ValuesIn(prefill_decode_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(PrefillThenDecodeChecks, AWorkloadWithoutPromptQueriesIsAnError) {
  UNISPARSE_SKIP_WITHOUT_GPU();
  PrefillDecodeCase c{"no_queries", {8, 2, 64}, 100, 1, 2, DType::fp16, SparsityMode::dense, 16, 16, 64,
                      4, GqaSelection::per_query_head, DType::fp32, 64, 128, 256};
  Workload workload = make_workload(c);
  for (Sequence& sequence : workload.batch) sequence.q = Tensor();
  RunOptions options;
  options.measure = false;
  EXPECT_THROW(make_cuda_backend()->decode(workload, make_plan(c, workload, CacheFill::prefill), options),
               std::invalid_argument);
}

TEST(PrefillThenDecodeTiming, MeasuringFillsThePrefillTime) {
  UNISPARSE_SKIP_WITHOUT_GPU();
  PrefillDecodeCase c{"timed", {32, 8, 128}, 4096, 1, 4, DType::fp16, SparsityMode::static_dynamic, 64,
                      16, 1024, 4, GqaSelection::per_query_head, DType::int4, 128, 128, 256};
  const Workload workload = make_workload(c);
  RunOptions options;
  options.timing = {.warmup = 1, .min_iters = 3, .max_iters = 5, .max_noise = 0.5, .l2_flush = true};
  const auto backend = make_cuda_backend();
  const DecodeRun prefilled = backend->decode(workload, make_plan(c, workload, CacheFill::prefill), options);
  EXPECT_GT(prefilled.times.prefill_us, 0);
  EXPECT_TRUE(std::isfinite(prefilled.times.prefill_us));
  EXPECT_GT(prefilled.times.total_us, 0);  // the decode step is timed as before
  const DecodeRun uploaded = backend->decode(workload, make_plan(c, workload, CacheFill::upload), options);
  EXPECT_TRUE(std::isnan(uploaded.times.prefill_us));
  std::printf("prefill over %d tokens: %.1f us; decode step %.1f us (prefill fill), %.1f us (upload)\n",
              c.context_len, prefilled.times.prefill_us, prefilled.times.total_us, uploaded.times.total_us);
}

// The results row: time_prefill_us is a number for a measured cuda point with cache_fill=prefill and
// empty otherwise (cache_fill=upload, the cpu backend).
TEST(PrefillThenDecodeTiming, TheRunnerWritesTimePrefillUs) {
  UNISPARSE_SKIP_WITHOUT_GPU();
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("unisparse_prefill_decode_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path sweep_file = dir / "prefill_decode_tiny.yaml";
  std::ofstream(sweep_file) << "name: prefill_decode_tiny\n"
                               "model: tiny\n"
                               "workload: needle\n"
                               "phase: decode\n"
                               "backends: [cpu, cuda]\n"
                               "fixed: {context_len: 1000, batch: 1, decode_steps: 4, mode: static+dynamic,\n"
                               "        dtype: fp16, kv_dtype: fp16, page_size: 32, logical_page_size: 16,\n"
                               "        token_budget: 256, reuse_interval: 2, block_size: 64}\n"
                               "axes:\n"
                               "  cache_fill: [upload, prefill]\n"
                               "timing: {warmup: 0, min_iters: 2, max_iters: 3, max_noise: 0.5}\n";
  const std::string source_dir = UNISPARSE_SOURCE_DIR;
  const SweepConfig sweep = load_sweep(sweep_file.string(), {}, source_dir + "/configs");
  RunnerOptions runner;
  runner.results_root = (dir / "results").string();
  runner.run_id = "r";
  runner.source_dir = source_dir;
  runner.quiet = true;
  const std::string run_dir = run_sweep(sweep, runner);
  std::map<std::string, nlohmann::json> rows;  // "<backend>|<cache_fill>"
  std::ifstream jsonl(fs::path(run_dir) / "points.jsonl");
  for (std::string line; std::getline(jsonl, line);) {
    const auto row = nlohmann::json::parse(line);
    rows[row["backend"].get<std::string>() + "|" + row["cache_fill"].get<std::string>()] = row;
  }
  fs::remove_all(dir);
  ASSERT_EQ(rows.size(), 4u);
  for (const auto& [key, row] : rows) {
    ASSERT_EQ(row["status"], "ok") << key << ": " << row["reason"];
    ASSERT_TRUE(row.contains("time_prefill_us")) << key;
  }
  ASSERT_TRUE(rows["cuda|prefill"]["time_prefill_us"].is_number());
  EXPECT_GT(rows["cuda|prefill"]["time_prefill_us"].get<double>(), 0);
  EXPECT_TRUE(rows["cuda|upload"]["time_prefill_us"].is_null());
  EXPECT_TRUE(rows["cpu|prefill"]["time_prefill_us"].is_null());
  // The same cache bytes: the same accuracy and the same agreement with the cpu backend.
  EXPECT_EQ(rows["cuda|prefill"]["out_rel_l2_max"], rows["cuda|upload"]["out_rel_l2_max"]);
  EXPECT_EQ(rows["cuda|prefill"]["kernel_vs_cpu_page_agreement"],
            rows["cuda|upload"]["kernel_vs_cpu_page_agreement"]);
}

}  // namespace
}  // namespace unisparse
