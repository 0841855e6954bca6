// The GPU selector against the CPU backend's functions, kernel by kernel: page scores from the key
// statistics the cache keeps must equal physical_page_scores bit for bit (same fp32 products and sums,
// channels in order), for logical pages per physical page from 1 to 128, odd ones included, every GQA
// mode and 16-bit type; top-k must keep exactly top_scored_pages (ties by the lower page), also for
// rows too long to keep in shared memory.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "framework/core/dtype.h"
#include "framework/sparse/key_stats.h"
#include "framework/sparse/page_scores.h"
#include "framework/sparse/top_pages.h"
#include "kernels/cache/paged_kv_cache.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/device_buffer.h"
#include "kernels/common/launch_limits.h"
#include "kernels/select/selector.h"
#include "tests/gpu/gpu_test_util.h"

namespace unisparse {
namespace {

using cuda::DeviceBuffer;

struct ScoreCase {
  std::string name;
  DType dtype;
  int head_dim;
  int group;
  int page_size;
  int logical_page_size;
  int num_tokens;
  GqaSelection gqa;
};

std::vector<float> gaussian(size_t count, uint64_t seed, DType dtype) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> values(count);
  for (float& v : values) v = normal(rng);
  round_to_dtype(values, dtype);
  return values;
}

// Bits of a float, so that a mismatch prints exactly.
uint32_t bits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

class PageScoresKernel : public ::testing::TestWithParam<ScoreCase> {};

TEST_P(PageScoresKernel, EqualsTheCpuScoresBitForBit) {
  UNISPARSE_SKIP_WITHOUT_GPU();
  const ScoreCase& c = GetParam();
  constexpr int kRows = 3;  // batch 1, three dense KV heads
  const cuda::PoolShape shape{cuda::PoolKind::dense, kRows, c.head_dim, c.page_size, c.num_tokens + 3, 0, 0,
                              c.logical_page_size};
  cuda::PagedKvCache cache(c.dtype, c.dtype, shape, 11);
  cudaStream_t stream = nullptr;
  UNISPARSE_CUDA_CHECK(cudaStreamCreate(&stream));
  std::vector<KeyStats> cpu_stats;
  for (int row = 0; row < kRows; ++row) {
    const std::vector<float> keys = gaussian(size_t(c.num_tokens) * c.head_dim, 100 + row, c.dtype);
    const std::vector<float> values = gaussian(size_t(c.num_tokens) * c.head_dim, 200 + row, c.dtype);
    cache.write_prefill(row, keys.data(), values.data(), c.num_tokens, stream);
    KeyStats& stats = cpu_stats.emplace_back(c.head_dim, c.logical_page_size);
    for (int t = 0; t < c.num_tokens; ++t)
      stats.append({keys.data() + size_t(t) * c.head_dim, size_t(c.head_dim)});
  }
  const int num_q_heads = kRows * c.group;
  const std::vector<float> queries = gaussian(size_t(num_q_heads) * c.head_dim, 7, c.dtype);
  DeviceBuffer<float> query;
  query.upload(queries);
  std::vector<int32_t> heads(kRows);
  for (int row = 0; row < kRows; ++row) heads[row] = row;
  DeviceBuffer<int32_t> kv_head_of_pool_head;
  kv_head_of_pool_head.upload(heads);
  const int num_pages = int(ceil_div(c.num_tokens, c.page_size));
  const int rows_out = kRows * cuda::selection_rows_per_pool_row(c.gqa, c.group);
  DeviceBuffer<float> scores(size_t(rows_out) * shape.pages_per_row());

  cuda::PageScoreParams params{};
  const auto fill_stats = [&](auto element) {
    using KvType = decltype(element);
    const cuda::PagedKvView<KvType> view = cache.view<KvType>();
    params.key_max = view.maybe_key_max;
    params.key_min = view.maybe_key_min;
  };
  if (c.dtype == DType::bf16)
    fill_stats(__nv_bfloat16{});
  else
    fill_stats(__half{});
  params.query = query.data();
  params.kv_head_of_pool_head = kv_head_of_pool_head.data();
  params.page_scores = scores.data();
  params.score_stride = shape.pages_per_row();
  params.pool_heads = kRows;
  params.num_q_heads = num_q_heads;
  params.head_dim = c.head_dim;
  params.logical_page_stride = shape.logical_pages_per_row();
  params.logical_per_physical = c.page_size / c.logical_page_size;
  params.num_scored_pages = num_pages - 1;
  params.gqa = c.gqa;
  cuda::launch_page_scores(params, c.dtype, c.group, kRows, stream);
  UNISPARSE_CUDA_CHECK(cudaStreamSynchronize(stream));
  const std::vector<float> gpu = scores.download();

  const PageGeometry geometry{c.page_size, c.logical_page_size};
  int compared = 0;
  for (int row = 0; row < kRows; ++row) {
    std::vector<float> combined;
    for (int g = 0; g < c.group; ++g) {
      const std::span<const float> q(queries.data() + size_t(row * c.group + g) * c.head_dim, size_t(c.head_dim));
      const std::vector<float> cpu = physical_page_scores(q, cpu_stats[row], geometry);
      if (c.gqa == GqaSelection::per_query_head) {
        for (int page = 0; page < num_pages - 1; ++page, ++compared)
          ASSERT_EQ(bits(gpu[size_t(row * c.group + g) * params.score_stride + page]), bits(cpu[page]))
              << c.name << ": row " << row << " head " << g << " page " << page << ": "
              << gpu[size_t(row * c.group + g) * params.score_stride + page] << " vs " << cpu[page];
        continue;
      }
      if (combined.empty()) {
        combined = cpu;
        continue;
      }
      for (size_t page = 0; page < cpu.size(); ++page)
        combined[page] = c.gqa == GqaSelection::kv_head_max ? std::max(combined[page], cpu[page])
                                                            : combined[page] + cpu[page];
    }
    if (c.gqa == GqaSelection::per_query_head) continue;
    for (int page = 0; page < num_pages - 1; ++page, ++compared)
      ASSERT_EQ(bits(gpu[size_t(row) * params.score_stride + page]), bits(combined[page]))
          << c.name << ": row " << row << " page " << page;
  }
  EXPECT_GT(compared, 0);
  UNISPARSE_CUDA_CHECK(cudaStreamDestroy(stream));
}

using enum GqaSelection;
INSTANTIATE_TEST_SUITE_P(
    Geometries, PageScoresKernel,
    ::testing::Values(ScoreCase{"page64_logical16_perq", DType::fp16, 128, 4, 64, 16, 4099, per_query_head},
                      ScoreCase{"page48_logical16_odd_kvmax", DType::fp16, 128, 4, 48, 16, 5000, kv_head_max},
                      ScoreCase{"page128_logical1_kvsum_bf16", DType::bf16, 128, 2, 128, 1, 1000, kv_head_sum},
                      ScoreCase{"page7_logical1_d64_group8", DType::fp16, 64, 8, 7, 1, 777, per_query_head},
                      ScoreCase{"page21_logical7_d64", DType::bf16, 64, 1, 21, 7, 3001, per_query_head},
                      ScoreCase{"page16_logical16_one_page", DType::fp16, 128, 4, 16, 16, 20, per_query_head}),
    [](const auto& info) { return info.param.name; });

// Top-k of rows of random scores with many exact ties, in shared memory and, past
// kTopkMaxSharedPages, straight from global memory.
TEST(TopkKernel, KeepsTheCpuTopPagesWithTies) {
  UNISPARSE_SKIP_WITHOUT_GPU();
  for (const int num_pages : {5, 700, 9000, cuda::limits::kTopkMaxSharedPages + 2, 70001}) {
    constexpr int kRows = 3, kPick = 64;
    cuda::prepare_topk(num_pages);
    std::mt19937_64 rng(num_pages);
    std::uniform_int_distribution<int> level(0, 40);
    std::vector<float> host(size_t(kRows) * num_pages);
    for (float& score : host) score = float(level(rng)) * 0.25f - 3.0f;  // few distinct values
    DeviceBuffer<float> scores;
    scores.upload(host);
    DeviceBuffer<int32_t> selected(size_t(kRows) * kPick), count(kRows);
    const cuda::TopkParams params{scores.data(), num_pages, num_pages, kPick, selected.data(), count.data(), kPick};
    cuda::launch_topk(params, kRows, nullptr);
    UNISPARSE_CUDA_CHECK(cudaDeviceSynchronize());
    const std::vector<int32_t> got = selected.download(), got_count = count.download();
    for (int row = 0; row < kRows; ++row) {
      const std::vector<int32_t> expected = top_scored_pages(
          std::span<const float>(host.data() + size_t(row) * num_pages, size_t(num_pages)), num_pages, kPick);
      ASSERT_EQ(got_count[row], int(expected.size())) << num_pages << " pages, row " << row;
      EXPECT_TRUE(std::equal(expected.begin(), expected.end(), got.begin() + size_t(row) * kPick))
          << num_pages << " pages, row " << row;
    }
  }
}

}  // namespace
}  // namespace unisparse
