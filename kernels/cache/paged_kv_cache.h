#pragma once
// The paged KV cache of one pool of KV heads on the GPU (framework/DESIGN.md, Kernels). Dense
// (retrieval) heads keep every token in pages listed by a CSR page table; streaming heads keep sink
// pages plus a ring of recent pages. Dense pools with page selection also keep per-logical-page key
// statistics.
#include <cuda_runtime.h>

#include <cstdint>

#include "framework/core/types.h"
#include "kernels/common/device_buffer.h"
#include "kernels/common/launch_limits.h"

namespace unisparse::cuda {

enum class PoolKind { dense, streaming };

struct PoolShape {
  PoolKind kind = PoolKind::dense;
  int rows = 0;             // one row per (sequence, KV head of this pool): b * heads_in_pool + head
  int head_dim = 0;
  int page_size = 0;        // physical page, tokens
  int capacity_tokens = 0;  // dense: prefill + decode steps
  int sink_tokens = 0;      // streaming
  int local_tokens = 0;     // streaming
  int logical_page_size = 0;  // > 0: keep kmax/kmin per logical page (dense pools)

  int sink_pages() const { return kind == PoolKind::streaming ? int(ceil_div(sink_tokens, page_size)) : 0; }
  // Enough ring pages that the last local_tokens tokens never alias: they span at most
  // ceil(local / page) + 1 pages.
  int ring_pages() const {
    return kind == PoolKind::streaming ? int(ceil_div(local_tokens, page_size)) + 1 : 0;
  }
  int pages_per_row() const {
    return kind == PoolKind::dense ? int(ceil_div(capacity_tokens, page_size))
                                   : sink_pages() + ring_pages();
  }
  // The statistics' stride between channels, in logical pages: every logical page of the row,
  // padded to a multiple of limits::kStatsPageAlignment so that the selector's vector loads stay
  // aligned and inside the row (the padding is zero and never scored).
  int logical_pages_per_row() const {
    if (logical_page_size <= 0) return 0;
    const int64_t pages = int64_t(pages_per_row()) * (page_size / logical_page_size);
    return int(ceil_div(pages, limits::kStatsPageAlignment) * limits::kStatsPageAlignment);
  }
};

// What kernels read: raw pointers into the pool. KvType (__half or __nv_bfloat16) is the type of the
// key statistics, the workload's dtype; the K/V rows are in the pool's storage format
// (kernels/common/kv_storage.cuh), row_bytes bytes a token.
template <class KvType>
struct PagedKvView {
  uint8_t* keys;          // [num_pages, page_size, row_bytes]
  uint8_t* values;        // [num_pages, page_size, row_bytes]
  float2* maybe_key_params;    // int8 / int4: [num_pages, page_size] (scale, zero) of each token row
  float2* maybe_value_params;  // int8 / int4: [num_pages, page_size]
  float* maybe_key_row_scale;    // fp8: [rows] one scale per (sequence, KV head)
  float* maybe_value_row_scale;  // fp8: [rows]
  const int32_t* page_indptr;   // [rows + 1]
  const int32_t* page_indices;  // [rows * pages_per_row] physical page ids, logical order
  KvType* maybe_key_max;  // [rows, head_dim, logical_pages_per_row] (nullptr without statistics)
  KvType* maybe_key_min;  // [rows, head_dim, logical_pages_per_row] (the stride includes padding)
  int page_size;
  int head_dim;
  int row_bytes;
  int logical_page_size;
  int logical_pages_per_row;
  int streaming;  // 1: sink pages then a ring of ring_pages pages
  int sink_tokens;
  int sink_pages;
  int ring_pages;
};

class PagedKvCache {
 public:
  // stats_dtype (fp16 or bf16, the workload's) types the key statistics; storage is the K/V format:
  // stats_dtype itself or int8, int4, fp8. Physical pages are handed out in a shuffled order (fixed
  // seed) so that the kernels are exercised through the page table, as after real allocation churn.
  PagedKvCache(DType stats_dtype, DType storage, const PoolShape& shape, uint64_t seed);

  // Writes tokens [0, num_tokens) of one row from host rows keys/values [num_tokens, head_dim],
  // quantizing them into the storage format, and computes that row's key statistics from the keys
  // before quantization. Streaming pools keep only what sink + local will read. fp8 takes the row's
  // scales from all num_tokens keys and values (e4m3_scale), as the CPU backend does.
  void write_prefill(int row, const float* keys, const float* values, int num_tokens,
                     cudaStream_t stream);
  // The same write from rows already on the device (the prefill's K/V): keys / values point at token
  // 0 of the row in source_dtype (fp32, fp16 or bf16), token t at t * token_stride elements further.
  // Same kernels, so the same values give the same bytes and statistics as write_prefill; fp8 takes
  // the row's scales on the device, equal to e4m3_scale's. Enqueued on `stream` without host
  // synchronisation, so the sources must live until it has run; rewriting a row from the same
  // sources leaves the cache unchanged.
  void write_prefill_from_device(int row, const void* keys, const void* values, DType source_dtype,
                                 int num_tokens, int64_t token_stride, cudaStream_t stream);
  const PoolShape& shape() const { return shape_; }
  DType stats_dtype() const { return stats_dtype_; }
  DType storage() const { return storage_; }
  template <class KvType>
  PagedKvView<KvType> view();

 private:
  // Tokens [0, num_tokens) of one row into its pages (quantized with the row scales already in
  // place) and, with statistics, the row's kmax/kmin from the keys before quantization.
  template <class Source>
  void enqueue_scatter_and_stats(int row, const Source* keys, const Source* values, int num_tokens,
                                 int64_t token_stride, cudaStream_t stream);
  // fp8: the row's key and value scales from every one of its num_tokens keys / values.
  template <class Source>
  void enqueue_fp8_row_scales(int row, const Source* keys, const Source* values, int num_tokens,
                              int64_t token_stride, cudaStream_t stream);

  DType stats_dtype_, storage_;
  PoolShape shape_;
  int row_bytes_ = 0;
  DeviceBuffer<uint8_t> keys_, values_;
  DeviceBuffer<float2> key_params_, value_params_;
  DeviceBuffer<float> key_row_scale_, value_row_scale_;
  DeviceBuffer<uint16_t> key_max_, key_min_;
  DeviceBuffer<int32_t> page_indptr_, page_indices_;
  DeviceBuffer<float> staging_keys_, staging_values_;
  DeviceBuffer<uint32_t> absmax_bits_;  // fp8: [2] max |key|, max |value| of the row being written
};

// Appends token `position` to every row of one or two pools (either may be null) with one launch:
// row r of a pool takes row source_row[r] of new_keys/new_values [*, head_dim] (device, fp32), and
// updates the statistics of its logical page (from the unquantized key). Both pools must share the
// statistics type, the storage format and head_dim.
void append_token_to_pools(PagedKvCache* maybe_first, const int32_t* first_source_row,
                           PagedKvCache* maybe_second, const int32_t* second_source_row,
                           const float* new_keys, const float* new_values, int position,
                           cudaStream_t stream);

}  // namespace unisparse::cuda
