#include "kernels/cache/paged_kv_cache.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/cache/token_slot.cuh"
#include "kernels/common/dispatch.h"
#include "kernels/common/vector_load.cuh"

namespace unisparse::cuda {
namespace {

// grid (ceil(tokens / blockDim.y), rows-to-write = 1), block (head_dim, tokens per block).
template <class KvType>
__global__ void prefill_scatter_kernel(PagedKvView<KvType> pool, int row, const float* keys,
                                       const float* values, int num_tokens, int first_kept_token) {
  const int token = blockIdx.x * blockDim.y + threadIdx.y;
  const int channel = threadIdx.x;
  if (token >= num_tokens || channel >= pool.head_dim) return;
  // Streaming rows keep the sink and the tokens a later local window can still reach.
  if (pool.streaming && token >= pool.sink_tokens && token < first_kept_token) return;
  const TokenSlot slot = token_slot(pool, row, token);
  const int64_t at = (int64_t(slot.physical_page) * pool.page_size + slot.offset) * pool.head_dim + channel;
  pool.keys[at] = from_float<KvType>(keys[int64_t(token) * pool.head_dim + channel]);
  pool.values[at] = from_float<KvType>(values[int64_t(token) * pool.head_dim + channel]);
}

// grid (ceil(logical pages / blockDim.y)), block (head_dim, logical pages per block): kmax/kmin over
// the tokens of one logical page present so far.
template <class KvType>
__global__ void prefill_key_stats_kernel(PagedKvView<KvType> pool, int row, const float* keys,
                                         int num_tokens) {
  const int logical_page = blockIdx.x * blockDim.y + threadIdx.y;
  const int channel = threadIdx.x;
  const int begin = logical_page * pool.logical_page_size;
  if (begin >= num_tokens || channel >= pool.head_dim) return;
  const int end = min(begin + pool.logical_page_size, num_tokens);
  float key_max = -INFINITY, key_min = INFINITY;
  for (int token = begin; token < end; ++token) {
    const float key = to_float(from_float<KvType>(keys[int64_t(token) * pool.head_dim + channel]));
    key_max = fmaxf(key_max, key);
    key_min = fminf(key_min, key);
  }
  const int64_t at = (int64_t(row) * pool.head_dim + channel) * pool.logical_pages_per_row + logical_page;
  pool.maybe_key_max[at] = from_float<KvType>(key_max);
  pool.maybe_key_min[at] = from_float<KvType>(key_min);
}

// Token `position` of one pool row: row takes row source_row[row] of new_keys/new_values [*, head_dim]
// and updates the statistics of its logical page. One thread per channel. Rewriting the same position
// twice leaves the cache unchanged, which the steady-state timing relies on.
template <class KvType>
__device__ __forceinline__ void append_token(const PagedKvView<KvType>& pool, int row, int channel,
                                             const float* new_keys, const float* new_values,
                                             const int32_t* source_row, int position) {
  if (channel >= pool.head_dim) return;
  const int64_t source = int64_t(source_row[row]) * pool.head_dim + channel;
  const KvType key = from_float<KvType>(new_keys[source]);
  const TokenSlot slot = token_slot(pool, row, position);
  const int64_t at = (int64_t(slot.physical_page) * pool.page_size + slot.offset) * pool.head_dim + channel;
  pool.keys[at] = key;
  pool.values[at] = from_float<KvType>(new_values[source]);
  if (pool.maybe_key_max == nullptr) return;
  const int logical_page = position / pool.logical_page_size;
  const int64_t stat = (int64_t(row) * pool.head_dim + channel) * pool.logical_pages_per_row + logical_page;
  const bool opens_logical_page = position % pool.logical_page_size == 0;
  const float value = to_float(key);
  pool.maybe_key_max[stat] =
      opens_logical_page ? key : from_float<KvType>(fmaxf(to_float(pool.maybe_key_max[stat]), value));
  pool.maybe_key_min[stat] =
      opens_logical_page ? key : from_float<KvType>(fminf(to_float(pool.maybe_key_min[stat]), value));
}

template <class KvType>
struct AppendTarget {
  PagedKvView<KvType> pool;
  const int32_t* source_row;  // [pool rows]
  int rows;
};

// grid (first.rows + second.rows), block (head_dim): both pools of a step in one launch (the
// second may have no rows).
template <class KvType>
__global__ void append_kernel(AppendTarget<KvType> first, AppendTarget<KvType> second,
                              const float* new_keys, const float* new_values, int position) {
  const int block = blockIdx.x;
  if (block < first.rows)
    append_token(first.pool, block, threadIdx.x, new_keys, new_values, first.source_row, position);
  else
    append_token(second.pool, block - first.rows, threadIdx.x, new_keys, new_values, second.source_row,
                 position);
}

}  // namespace

PagedKvCache::PagedKvCache(DType kv_dtype, const PoolShape& shape, uint64_t seed)
    : kv_dtype_(kv_dtype), shape_(shape) {
  UNISPARSE_DISPATCH_KV_DTYPE(kv_dtype, KvType, [] {});  // rejects other storage types up front
  const int64_t pages_per_row = shape.pages_per_row();
  const int64_t num_pages = int64_t(shape.rows) * pages_per_row;
  const int64_t page_elements = int64_t(shape.page_size) * shape.head_dim;
  keys_.resize(num_pages * page_elements);
  values_.resize(num_pages * page_elements);
  if (shape.logical_page_size > 0) {
    key_max_.resize(int64_t(shape.rows) * shape.head_dim * shape.logical_pages_per_row());
    key_min_.resize(key_max_.size());
  }
  std::vector<int32_t> page_indices(num_pages);
  std::iota(page_indices.begin(), page_indices.end(), 0);
  std::shuffle(page_indices.begin(), page_indices.end(), std::mt19937_64(seed));
  std::vector<int32_t> indptr(shape.rows + 1);
  for (int r = 0; r <= shape.rows; ++r) indptr[r] = static_cast<int32_t>(r * pages_per_row);
  page_indptr_.upload(indptr);
  page_indices_.upload(page_indices);
}

template <class KvType>
PagedKvView<KvType> PagedKvCache::view() {
  const bool stats = shape_.logical_page_size > 0;
  return {reinterpret_cast<KvType*>(keys_.data()),
          reinterpret_cast<KvType*>(values_.data()),
          page_indptr_.data(),
          page_indices_.data(),
          stats ? reinterpret_cast<KvType*>(key_max_.data()) : nullptr,
          stats ? reinterpret_cast<KvType*>(key_min_.data()) : nullptr,
          shape_.page_size,
          shape_.head_dim,
          shape_.logical_page_size,
          shape_.logical_pages_per_row(),
          shape_.kind == PoolKind::streaming,
          shape_.sink_tokens,
          shape_.sink_pages(),
          shape_.ring_pages()};
}
template PagedKvView<__half> PagedKvCache::view();
template PagedKvView<__nv_bfloat16> PagedKvCache::view();

void PagedKvCache::write_prefill(int row, const float* keys, const float* values, int num_tokens,
                                 cudaStream_t stream) {
  if (num_tokens == 0) return;
  const size_t count = size_t(num_tokens) * shape_.head_dim;
  if (staging_keys_.size() < count) {
    staging_keys_.resize(count);
    staging_values_.resize(count);
  }
  UNISPARSE_CUDA_CHECK(cudaMemcpyAsync(staging_keys_.data(), keys, count * sizeof(float),
                                       cudaMemcpyHostToDevice, stream));
  UNISPARSE_CUDA_CHECK(cudaMemcpyAsync(staging_values_.data(), values, count * sizeof(float),
                                       cudaMemcpyHostToDevice, stream));
  const int first_kept_token = std::max(0, num_tokens - shape_.local_tokens);
  UNISPARSE_DISPATCH_KV_DTYPE(kv_dtype_, KvType, [&] {
    const PagedKvView<KvType> pool = view<KvType>();
    const dim3 block(shape_.head_dim, std::max(1, 256 / shape_.head_dim));
    prefill_scatter_kernel<<<ceil_div(num_tokens, block.y), block, 0, stream>>>(
        pool, row, staging_keys_.data(), staging_values_.data(), num_tokens, first_kept_token);
    UNISPARSE_CUDA_CHECK_LAUNCH();
    if (pool.maybe_key_max) {
      const int logical_pages = ceil_div(num_tokens, shape_.logical_page_size);
      prefill_key_stats_kernel<<<ceil_div(logical_pages, block.y), block, 0, stream>>>(
          pool, row, staging_keys_.data(), num_tokens);
      UNISPARSE_CUDA_CHECK_LAUNCH();
    }
  });
  // The staging buffers are reused by the next row.
  UNISPARSE_CUDA_CHECK(cudaStreamSynchronize(stream));
}

void append_token_to_pools(PagedKvCache* maybe_first, const int32_t* first_source_row,
                           PagedKvCache* maybe_second, const int32_t* second_source_row,
                           const float* new_keys, const float* new_values, int position,
                           cudaStream_t stream) {
  if (maybe_first == nullptr) {
    std::swap(maybe_first, maybe_second);
    std::swap(first_source_row, second_source_row);
  }
  if (maybe_first == nullptr) return;
  if (maybe_second && (maybe_second->kv_dtype() != maybe_first->kv_dtype() ||
                       maybe_second->shape().head_dim != maybe_first->shape().head_dim))
    throw Unsupported("cuda decode: pools of one step must share the KV type and head_dim");
  UNISPARSE_DISPATCH_KV_DTYPE(maybe_first->kv_dtype(), KvType, [&] {
    const AppendTarget<KvType> first{maybe_first->view<KvType>(), first_source_row,
                                     maybe_first->shape().rows};
    // An absent second pool gets no blocks; its view is never read.
    const AppendTarget<KvType> second =
        maybe_second ? AppendTarget<KvType>{maybe_second->view<KvType>(), second_source_row,
                                            maybe_second->shape().rows}
                     : AppendTarget<KvType>{first.pool, nullptr, 0};
    append_kernel<<<first.rows + second.rows, maybe_first->shape().head_dim, 0, stream>>>(
        first, second, new_keys, new_values, position);
    UNISPARSE_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace unisparse::cuda
