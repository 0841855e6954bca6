#include "kernels/cache/paged_kv_cache.h"

#include <cub/block/block_reduce.cuh>

#include <algorithm>
#include <numeric>
#include <random>
#include <type_traits>
#include <vector>

#include "framework/core/kv_quant.h"
#include "kernels/cache/token_slot.cuh"
#include "kernels/common/dispatch.h"
#include "kernels/common/vector_load.cuh"

namespace unisparse::cuda {
namespace {

constexpr int kWarpsPerBlock = limits::kAppendWarpsPerBlock;  // rows written per block, one warp each
constexpr int kAbsMaxThreads = 256;
constexpr int kAbsMaxMaxBlocks = 1024;

// A source element as fp32: the host path stages fp32, the prefill's tensors are fp16 / bf16.
__device__ __forceinline__ float widen(float x) { return x; }
__device__ __forceinline__ float widen(__half x) { return __half2float(x); }
__device__ __forceinline__ float widen(__nv_bfloat16 x) { return __bfloat162float(x); }

// One token row as fp32 for store_token_row, which reads fp32 and some channels twice: fp32 sources
// are read in place, 16-bit sources are first widened into this warp's scratch [head_dim] in shared
// memory. Widening is exact, so both give the same bytes for the same values.
template <class Source>
__device__ __forceinline__ const float* row_as_float(const Source* source, float* warp_scratch,
                                                     int head_dim, int lane) {
  if constexpr (std::is_same_v<Source, float>) {
    return source;
  } else {
    for (int c = lane; c < head_dim; c += 32) warp_scratch[c] = widen(source[c]);
    __syncwarp();
    return warp_scratch;
  }
}

template <class Source>
constexpr int scatter_shared_bytes(int head_dim) {
  return std::is_same_v<Source, float> ? 0 : kWarpsPerBlock * 2 * head_dim * int(sizeof(float));
}

// Where token `token` of pool row `row` is stored: its row of bytes and the index of its
// (scale, zero) pair.
struct StoredToken {
  int64_t row_offset;  // bytes into keys / values
  int64_t param_index;
};
template <class KvType>
__device__ __forceinline__ StoredToken stored_token(const PagedKvView<KvType>& pool, int row,
                                                            int token) {
  const TokenSlot slot = token_slot(pool, row, token);
  const int64_t index = int64_t(slot.physical_page) * pool.page_size + slot.offset;
  return {index * pool.row_bytes, index};
}

// One warp stores the key and the value row of token `token` of pool row `row` from fp32 sources.
template <class KvType, class Storage>
__device__ __forceinline__ void store_token(const PagedKvView<KvType>& pool, int row, int token,
                                            const float* key, const float* value, int lane) {
  const StoredToken at = stored_token(pool, row, token);
  constexpr bool params = Storage::kTokenParams;
  store_token_row<Storage>(key, pool.head_dim, pool.keys + at.row_offset,
                           params ? pool.maybe_key_params + at.param_index : nullptr,
                           Storage::kRowScale ? pool.maybe_key_row_scale[row] : 1.0f, lane);
  store_token_row<Storage>(value, pool.head_dim, pool.values + at.row_offset,
                           params ? pool.maybe_value_params + at.param_index : nullptr,
                           Storage::kRowScale ? pool.maybe_value_row_scale[row] : 1.0f, lane);
}

// grid (ceil(tokens / kWarpsPerBlock)), block (32, kWarpsPerBlock), scatter_shared_bytes<Source>
// of shared memory: one warp per token row. Token t of the row is at keys / values + t * token_stride.
template <class KvType, class Storage, class Source>
__global__ void prefill_scatter_kernel(PagedKvView<KvType> pool, int row, const Source* keys,
                                       const Source* values, int64_t token_stride, int num_tokens,
                                       int first_kept_token) {
  extern __shared__ float widened[];  // 16-bit sources: [kWarpsPerBlock, 2, head_dim]
  const int token = blockIdx.x * kWarpsPerBlock + threadIdx.y;
  if (token >= num_tokens) return;
  // Streaming rows keep the sink and the tokens a later local window can still reach.
  if (pool.streaming && token >= pool.sink_tokens && token < first_kept_token) return;
  const int64_t source = int64_t(token) * token_stride;
  float* warp_scratch = widened + threadIdx.y * 2 * pool.head_dim;
  const float* key = row_as_float(keys + source, warp_scratch, pool.head_dim, threadIdx.x);
  const float* value =
      row_as_float(values + source, warp_scratch + pool.head_dim, pool.head_dim, threadIdx.x);
  store_token<KvType, Storage>(pool, row, token, key, value, threadIdx.x);
}

// grid (ceil(logical pages / blockDim.y)), block (head_dim, logical pages per block): kmax/kmin over
// the tokens of one logical page present so far, from the keys before quantization.
template <class KvType, class Source>
__global__ void prefill_key_stats_kernel(PagedKvView<KvType> pool, int row, const Source* keys,
                                         int64_t token_stride, int num_tokens) {
  const int logical_page = blockIdx.x * blockDim.y + threadIdx.y;
  const int channel = threadIdx.x;
  const int begin = logical_page * pool.logical_page_size;
  if (begin >= num_tokens || channel >= pool.head_dim) return;
  const int end = min(begin + pool.logical_page_size, num_tokens);
  float key_max = -INFINITY, key_min = INFINITY;
  for (int token = begin; token < end; ++token) {
    const float key = to_float(from_float<KvType>(widen(keys[int64_t(token) * token_stride + channel])));
    key_max = fmaxf(key_max, key);
    key_min = fminf(key_min, key);
  }
  const int64_t at = (int64_t(row) * pool.head_dim + channel) * pool.logical_pages_per_row + logical_page;
  pool.maybe_key_max[at] = from_float<KvType>(key_max);
  pool.maybe_key_min[at] = from_float<KvType>(key_min);
}

struct FloatMax {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// grid (blocks, 2), block kAbsMaxThreads: max |x| over tokens [0, num_tokens) x head_dim of keys
// (blockIdx.y 0) or values (1), folded into absmax_bits[blockIdx.y], which must start at 0. The bits
// of non-negative floats order as the floats do, so an integer atomicMax is the float max, and a max
// is exact in any order.
template <class Source>
__global__ void row_absmax_kernel(const Source* keys, const Source* values, int64_t token_stride,
                                  int head_dim, int64_t count, uint32_t* absmax_bits) {
  const Source* source = blockIdx.y == 0 ? keys : values;
  float absmax = 0.0f;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t token = i / head_dim;
    absmax = fmaxf(absmax, fabsf(widen(source[token * token_stride + (i - token * head_dim)])));
  }
  using BlockReduce = cub::BlockReduce<float, kAbsMaxThreads>;
  __shared__ typename BlockReduce::TempStorage reduce_storage;
  const float block_max = BlockReduce(reduce_storage).Reduce(absmax, FloatMax{});
  if (threadIdx.x == 0) atomicMax(absmax_bits + blockIdx.y, __float_as_uint(block_max));
}

// block 2 (keys, values): the row's fp8 scales as e4m3_scale computes them, max |x| / 448 in fp32
// (one correctly rounded division), 1 when every value is 0.
__global__ void fp8_row_scale_kernel(const uint32_t* absmax_bits, float* key_row_scale,
                                     float* value_row_scale, int row) {
  const float absmax = __uint_as_float(absmax_bits[threadIdx.x]);
  (threadIdx.x == 0 ? key_row_scale : value_row_scale)[row] =
      absmax > 0.0f ? __fdiv_rn(absmax, kE4m3Max) : 1.0f;
}

template <class KvType>
struct AppendTarget {
  PagedKvView<KvType> pool;
  const int32_t* source_row;  // [pool rows]
  int rows;
};

// Token `position` of one pool row: the row takes row source_row[row] of new_keys/new_values
// [*, head_dim], quantized into the storage format, and updates the statistics of its logical page
// from the key before quantization. One warp per row. Rewriting the same position twice leaves the
// cache unchanged, which the steady-state timing relies on.
template <class KvType, class Storage>
__device__ __forceinline__ void append_token(const AppendTarget<KvType>& target, int row, int lane,
                                             const float* new_keys, const float* new_values,
                                             int position) {
  const PagedKvView<KvType>& pool = target.pool;
  const int64_t source = int64_t(target.source_row[row]) * pool.head_dim;
  store_token<KvType, Storage>(pool, row, position, new_keys + source, new_values + source, lane);
  if (pool.maybe_key_max == nullptr) return;
  const int logical_page = position / pool.logical_page_size;
  const bool opens_logical_page = position % pool.logical_page_size == 0;
  for (int channel = lane; channel < pool.head_dim; channel += 32) {
    const KvType key = from_float<KvType>(new_keys[source + channel]);
    const int64_t stat = (int64_t(row) * pool.head_dim + channel) * pool.logical_pages_per_row + logical_page;
    const float value = to_float(key);
    pool.maybe_key_max[stat] =
        opens_logical_page ? key : from_float<KvType>(fmaxf(to_float(pool.maybe_key_max[stat]), value));
    pool.maybe_key_min[stat] =
        opens_logical_page ? key : from_float<KvType>(fminf(to_float(pool.maybe_key_min[stat]), value));
  }
}

// grid ceil((first.rows + second.rows) / kWarpsPerBlock), block (32, kWarpsPerBlock): both pools of
// a step in one launch (the second may have no rows), one warp per pool row.
template <class KvType, class Storage>
__global__ void append_kernel(AppendTarget<KvType> first, AppendTarget<KvType> second,
                              const float* new_keys, const float* new_values, int position) {
  const int row = blockIdx.x * kWarpsPerBlock + threadIdx.y;
  if (row < first.rows)
    append_token<KvType, Storage>(first, row, threadIdx.x, new_keys, new_values, position);
  else if (row < first.rows + second.rows)
    append_token<KvType, Storage>(second, row - first.rows, threadIdx.x, new_keys, new_values, position);
}

}  // namespace

PagedKvCache::PagedKvCache(DType stats_dtype, DType storage, const PoolShape& shape, uint64_t seed)
    : stats_dtype_(stats_dtype), storage_(storage), shape_(shape) {
  UNISPARSE_DISPATCH_KV_DTYPE("cuda cache", stats_dtype, KvType, [] {});  // rejects other types up front
  if (!is_quantized(storage) && storage != stats_dtype)
    throw Unsupported("cuda cache: a float KV cache is stored in the workload dtype (" +
                      std::string(to_string(stats_dtype)) + "), not " + std::string(to_string(storage)));
  UNISPARSE_DISPATCH_KV_STORAGE("cuda cache", storage, Storage, [&] {
    if (shape.head_dim % 8 != 0) throw Unsupported("cuda cache: head_dim must be a multiple of 8");
    row_bytes_ = row_bytes<Storage>(shape.head_dim);
  });
  const int64_t pages_per_row = shape.pages_per_row();
  const int64_t num_pages = int64_t(shape.rows) * pages_per_row;
  const int64_t page_tokens = num_pages * shape.page_size;
  keys_.resize(page_tokens * row_bytes_);
  values_.resize(page_tokens * row_bytes_);
  if (storage == DType::int8 || storage == DType::int4) {
    key_params_.resize(page_tokens);
    value_params_.resize(page_tokens);
  }
  if (storage == DType::fp8) {
    key_row_scale_.upload(std::vector<float>(shape.rows, 1.0f));
    value_row_scale_.upload(std::vector<float>(shape.rows, 1.0f));
    absmax_bits_.resize(2);
  }
  if (shape.logical_page_size > 0) {
    key_max_.resize(int64_t(shape.rows) * shape.head_dim * shape.logical_pages_per_row());
    key_min_.resize(key_max_.size());
    // Zero padding: the selector's vector loads read it (and discard it), and two caches written
    // alike hold equal bytes.
    UNISPARSE_CUDA_CHECK(cudaMemset(key_max_.data(), 0, key_max_.size() * sizeof(uint16_t)));
    UNISPARSE_CUDA_CHECK(cudaMemset(key_min_.data(), 0, key_min_.size() * sizeof(uint16_t)));
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
  auto or_null = [](auto& buffer) { return buffer.size() ? buffer.data() : nullptr; };
  return {keys_.data(),
          values_.data(),
          or_null(key_params_),
          or_null(value_params_),
          or_null(key_row_scale_),
          or_null(value_row_scale_),
          page_indptr_.data(),
          page_indices_.data(),
          stats ? reinterpret_cast<KvType*>(key_max_.data()) : nullptr,
          stats ? reinterpret_cast<KvType*>(key_min_.data()) : nullptr,
          shape_.page_size,
          shape_.head_dim,
          row_bytes_,
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
  const size_t count = size_t(num_tokens) * shape_.head_dim;
  if (storage_ == DType::fp8) {
    // Synchronous copies: the scales live on this stack frame.
    const float key_scale = e4m3_scale({keys, count}), value_scale = e4m3_scale({values, count});
    UNISPARSE_CUDA_CHECK(cudaMemcpy(key_row_scale_.data() + row, &key_scale, sizeof(float),
                                    cudaMemcpyHostToDevice));
    UNISPARSE_CUDA_CHECK(cudaMemcpy(value_row_scale_.data() + row, &value_scale, sizeof(float),
                                    cudaMemcpyHostToDevice));
  }
  if (num_tokens == 0) return;
  if (staging_keys_.size() < count) {
    staging_keys_.resize(count);
    staging_values_.resize(count);
  }
  UNISPARSE_CUDA_CHECK(cudaMemcpyAsync(staging_keys_.data(), keys, count * sizeof(float),
                                       cudaMemcpyHostToDevice, stream));
  UNISPARSE_CUDA_CHECK(cudaMemcpyAsync(staging_values_.data(), values, count * sizeof(float),
                                       cudaMemcpyHostToDevice, stream));
  enqueue_scatter_and_stats(row, staging_keys_.data(), staging_values_.data(), num_tokens,
                            shape_.head_dim, stream);
  // The staging buffers are reused by the next row.
  UNISPARSE_CUDA_CHECK(cudaStreamSynchronize(stream));
}

void PagedKvCache::write_prefill_from_device(int row, const void* keys, const void* values,
                                             DType source_dtype, int num_tokens,
                                             int64_t token_stride, cudaStream_t stream) {
  const auto write = [&](auto element) {
    using Source = decltype(element);
    const auto* source_keys = static_cast<const Source*>(keys);
    const auto* source_values = static_cast<const Source*>(values);
    if (storage_ == DType::fp8)
      enqueue_fp8_row_scales(row, source_keys, source_values, num_tokens, token_stride, stream);
    if (num_tokens > 0)
      enqueue_scatter_and_stats(row, source_keys, source_values, num_tokens, token_stride, stream);
  };
  switch (source_dtype) {
    case DType::fp32: return write(float{});
    case DType::fp16: return write(__half{});
    case DType::bf16: return write(__nv_bfloat16{});
    default:
      throw Unsupported("cuda cache: K/V rows in " + std::string(to_string(source_dtype)) +
                        " cannot be written (fp32, fp16, bf16)");
  }
}

template <class Source>
void PagedKvCache::enqueue_fp8_row_scales(int row, const Source* keys, const Source* values,
                                          int num_tokens, int64_t token_stride,
                                          cudaStream_t stream) {
  UNISPARSE_CUDA_CHECK(cudaMemsetAsync(absmax_bits_.data(), 0, 2 * sizeof(uint32_t), stream));
  const int64_t count = int64_t(num_tokens) * shape_.head_dim;
  if (count > 0) {
    const int blocks = static_cast<int>(
        std::min<int64_t>(ceil_div(count, int64_t{kAbsMaxThreads} * 8), kAbsMaxMaxBlocks));
    row_absmax_kernel<<<dim3(blocks, 2), kAbsMaxThreads, 0, stream>>>(
        keys, values, token_stride, shape_.head_dim, count, absmax_bits_.data());
    UNISPARSE_CUDA_CHECK_LAUNCH();
  }
  fp8_row_scale_kernel<<<1, 2, 0, stream>>>(absmax_bits_.data(), key_row_scale_.data(),
                                            value_row_scale_.data(), row);
  UNISPARSE_CUDA_CHECK_LAUNCH();
}

template <class Source>
void PagedKvCache::enqueue_scatter_and_stats(int row, const Source* keys, const Source* values,
                                             int num_tokens, int64_t token_stride,
                                             cudaStream_t stream) {
  const int first_kept_token = std::max(0, num_tokens - shape_.local_tokens);
  UNISPARSE_DISPATCH_KV_DTYPE("cuda cache", stats_dtype_, KvType, [&] {
    const PagedKvView<KvType> pool = view<KvType>();
    UNISPARSE_DISPATCH_KV_STORAGE("cuda cache", storage_, Storage, [&] {
      prefill_scatter_kernel<KvType, Storage, Source>
          <<<ceil_div(num_tokens, kWarpsPerBlock), dim3(32, kWarpsPerBlock),
             scatter_shared_bytes<Source>(shape_.head_dim), stream>>>(
              pool, row, keys, values, token_stride, num_tokens, first_kept_token);
      UNISPARSE_CUDA_CHECK_LAUNCH();
    });
    if (pool.maybe_key_max) {
      const dim3 block(shape_.head_dim, std::max(1, 256 / shape_.head_dim));
      const int logical_pages = ceil_div(num_tokens, shape_.logical_page_size);
      prefill_key_stats_kernel<<<ceil_div(logical_pages, block.y), block, 0, stream>>>(
          pool, row, keys, token_stride, num_tokens);
      UNISPARSE_CUDA_CHECK_LAUNCH();
    }
  });
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
  if (maybe_second && (maybe_second->stats_dtype() != maybe_first->stats_dtype() ||
                       maybe_second->storage() != maybe_first->storage() ||
                       maybe_second->shape().head_dim != maybe_first->shape().head_dim))
    throw Unsupported("cuda decode: pools of one step must share the KV types and head_dim");
  UNISPARSE_DISPATCH_KV_DTYPE("cuda decode append", maybe_first->stats_dtype(), KvType, [&] {
    const AppendTarget<KvType> first{maybe_first->view<KvType>(), first_source_row,
                                     maybe_first->shape().rows};
    // An absent second pool gets no rows; its view is never read.
    const AppendTarget<KvType> second =
        maybe_second ? AppendTarget<KvType>{maybe_second->view<KvType>(), second_source_row,
                                            maybe_second->shape().rows}
                     : AppendTarget<KvType>{first.pool, nullptr, 0};
    UNISPARSE_DISPATCH_KV_STORAGE("cuda decode append", maybe_first->storage(), Storage, [&] {
      append_kernel<KvType, Storage>
          <<<ceil_div(first.rows + second.rows, kWarpsPerBlock), dim3(32, kWarpsPerBlock), 0, stream>>>(
              first, second, new_keys, new_values, position);
      UNISPARSE_CUDA_CHECK_LAUNCH();
    });
  });
}

}  // namespace unisparse::cuda
