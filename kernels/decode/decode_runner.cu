#include "kernels/decode/decode_runner.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "framework/core/error.h"
#include "framework/core/kv_quant.h"
#include "kernels/common/dispatch.h"
#include "kernels/profile/gpu_timer.h"
#include "kernels/profile/nvtx.h"
#include "kernels/select/selector.h"

namespace unisparse::cuda {
namespace {

// Enough blocks in flight to cover the memory latency of every SM several times over.
constexpr int kBlocksPerSmTarget = 8;
constexpr int kMaxSplits = 256;

std::vector<int32_t> pages_of_ranges(const std::vector<TokenRange>& ranges, int page_size) {
  std::vector<int32_t> pages;
  for (const TokenRange& range : ranges)
    for (int page = range.begin / page_size; page * page_size < range.end; ++page)
      if (pages.empty() || pages.back() < page) pages.push_back(page);
  return pages;
}

}  // namespace

DecodeRunner::DecodeRunner(const Workload& workload, const DecodePlan& plan, cudaStream_t stream,
                           const RunOptions& options)
    : plan_(plan), stream_(stream), nvtx_label_(options.label) {
  batch_ = workload.batch_size();
  num_q_heads_ = workload.shape.num_q_heads;
  num_kv_heads_ = workload.shape.num_kv_heads;
  head_dim_ = workload.shape.head_dim;
  group_size_ = workload.shape.group_size();
  context_len_ = workload.context_len;
  steps_ = workload.decode_steps;
  page_size_ = plan.geometry.physical_page_size;
  if (page_size_ <= 0 || page_size_ > 128 || head_dim_ % 8 != 0)
    throw Unsupported("cuda decode: page_size " + std::to_string(page_size_) +
                      " (1..128) / head_dim " + std::to_string(head_dim_) + " not supported");
  int device = 0;
  UNISPARSE_CUDA_CHECK(cudaGetDevice(&device));
  UNISPARSE_CUDA_CHECK(cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, device));

  const bool streaming = uses_streaming_heads(plan.mode);
  for (int kv = 0; kv < num_kv_heads_; ++kv)
    (streaming && plan.heads.is_streaming(kv) ? streaming_heads_ : dense_heads_).push_back(kv);
  uses_selection_ = uses_page_selection(plan.mode) && !dense_heads_.empty();
  const int capacity = context_len_ + steps_;
  const int capacity_pages = static_cast<int>(ceil_div(capacity, page_size_));
  if (uses_selection_) {
    const PageGeometry& geometry = plan.geometry;
    if (geometry.logical_page_size <= 0 || page_size_ % geometry.logical_page_size != 0 ||
        plan.policy.token_budget % page_size_ != 0 || plan.policy.token_budget <= 0 ||
        plan.policy.reuse_interval <= 0)
      throw Unsupported("cuda decode: invalid selection geometry (logical page must divide the "
                        "page, budget must be a positive multiple of the page)");
    pages_to_pick_ = plan.policy.token_budget / page_size_;
  }

  // Statistics in the workload's dtype (its values are exactly representable in it); K/V in the
  // plan's quantized format, or in the workload's dtype too.
  const DType stats_dtype = workload.dtype;
  const DType storage = is_quantized(plan.kv_storage) ? plan.kv_storage : workload.dtype;
  const uint64_t seed = workload.seed;

  auto upload_heads = [](const std::vector<int32_t>& heads, DeviceBuffer<int32_t>& out) {
    out.upload(heads.empty() ? std::vector<int32_t>{0} : heads);
  };
  auto source_rows = [&](const std::vector<int32_t>& heads, DeviceBuffer<int32_t>& out) {
    std::vector<int32_t> rows;
    for (int b = 0; b < batch_; ++b)
      for (int32_t kv : heads) rows.push_back(b * num_kv_heads_ + kv);
    out.upload(rows.empty() ? std::vector<int32_t>{0} : rows);
  };
  upload_heads(dense_heads_, dense_kv_head_of_pool_head_);
  upload_heads(streaming_heads_, streaming_kv_head_of_pool_head_);
  source_rows(dense_heads_, dense_source_row_);
  source_rows(streaming_heads_, streaming_source_row_);

  {
    NvtxRange range(nvtx_label_, "prefill_upload");
    if (!dense_heads_.empty()) {
      PoolShape shape{PoolKind::dense, batch_ * int(dense_heads_.size()), head_dim_, page_size_,
                      capacity, 0, 0, uses_selection_ ? plan.geometry.logical_page_size : 0};
      dense_pool_.emplace(stats_dtype, storage, shape, seed * 2 + 1);
    }
    if (!streaming_heads_.empty()) {
      PoolShape shape{PoolKind::streaming, batch_ * int(streaming_heads_.size()), head_dim_,
                      page_size_, capacity, plan.heads.sink_tokens, plan.heads.local_tokens, 0};
      streaming_pool_.emplace(stats_dtype, storage, shape, seed * 2 + 2);
    }
    if (plan.cache_fill == CacheFill::upload) {
      for (int b = 0; b < batch_; ++b) {
        const Sequence& sequence = workload.batch[b];
        for (size_t h = 0; h < dense_heads_.size(); ++h)
          dense_pool_->write_prefill(b * int(dense_heads_.size()) + int(h),
                                     sequence.k.row({dense_heads_[h]}), sequence.v.row({dense_heads_[h]}),
                                     context_len_, stream_);
        for (size_t h = 0; h < streaming_heads_.size(); ++h)
          streaming_pool_->write_prefill(b * int(streaming_heads_.size()) + int(h),
                                         sequence.k.row({streaming_heads_[h]}),
                                         sequence.v.row({streaming_heads_[h]}), context_len_, stream_);
      }
    }
  }
  if (plan.cache_fill == CacheFill::prefill) fill_pools_by_prefill(workload, options);

  // Decode inputs, step-major so that one step's rows are contiguous.
  const int64_t q_step = int64_t(batch_) * num_q_heads_ * head_dim_;
  const int64_t kv_step = int64_t(batch_) * num_kv_heads_ * head_dim_;
  std::vector<float> queries(steps_ * q_step), new_keys(steps_ * kv_step), new_values(steps_ * kv_step);
  for (int s = 0; s < steps_; ++s)
    for (int b = 0; b < batch_; ++b) {
      const Sequence& sequence = workload.batch[b];
      std::copy_n(sequence.q_decode.row({s}), num_q_heads_ * head_dim_,
                  queries.begin() + s * q_step + int64_t(b) * num_q_heads_ * head_dim_);
      std::copy_n(sequence.k_decode.row({s}), num_kv_heads_ * head_dim_,
                  new_keys.begin() + s * kv_step + int64_t(b) * num_kv_heads_ * head_dim_);
      std::copy_n(sequence.v_decode.row({s}), num_kv_heads_ * head_dim_,
                  new_values.begin() + s * kv_step + int64_t(b) * num_kv_heads_ * head_dim_);
    }
  queries_.upload(queries);
  new_keys_.upload(new_keys);
  new_values_.upload(new_values);
  out_.resize(std::max<int64_t>(1, int64_t(batch_) * steps_ * num_q_heads_ * head_dim_));
  // Poisoned with NaN (all bits set), so that an output no kernel writes cannot pass as a value.
  UNISPARSE_CUDA_CHECK(cudaMemsetAsync(out_.data(), 0xFF, out_.size() * sizeof(float), stream_));

  // Launch shapes are fixed for the run, sized for the longest context it reaches; splits left
  // without chunks at earlier steps contribute nothing to the merge.
  const bool per_query_head = plan.policy.gqa_selection == GqaSelection::per_query_head;
  std::vector<int32_t> num_splits_of_q_head(num_q_heads_, 1);
  if (dense_pool_) {
    const int heads_per_load = uses_selection_ && per_query_head ? 1 : group_size_;
    const int max_chunks = uses_selection_ ? std::min(capacity_pages, pages_to_pick_) : capacity_pages;
    dense_launch_ = plan_pool_launch(uses_selection_ ? DecodeVariant::selected_pages : DecodeVariant::all_pages,
                                     dense_pool_->shape().rows, heads_per_load, max_chunks);
    for (int32_t kv : dense_heads_)
      for (int g = 0; g < group_size_; ++g) num_splits_of_q_head[kv * group_size_ + g] = dense_launch_.num_splits;
  }
  if (streaming_pool_) {
    const int max_chunks = streaming_pool_->shape().sink_pages() + streaming_pool_->shape().ring_pages();
    streaming_launch_ = plan_pool_launch(DecodeVariant::streaming_window, streaming_pool_->shape().rows,
                                         group_size_, max_chunks);
    for (int32_t kv : streaming_heads_)
      for (int g = 0; g < group_size_; ++g) num_splits_of_q_head[kv * group_size_ + g] = streaming_launch_.num_splits;
  }
  max_splits_ = std::max(dense_launch_.num_splits, streaming_launch_.num_splits);
  num_splits_of_q_head_.upload(num_splits_of_q_head);
  const int64_t partial_rows = int64_t(batch_) * num_q_heads_ * max_splits_;
  partial_out_.resize(partial_rows * head_dim_);
  partial_max_.resize(partial_rows);
  partial_sum_.resize(partial_rows);

  if (uses_selection_) {
    selection_rows_ = dense_pool_->shape().rows * selection_rows_per_pool_row(plan.policy.gqa_selection, group_size_);
    page_scores_.resize(int64_t(selection_rows_) * dense_pool_->shape().pages_per_row());
    selected_.resize(int64_t(selection_rows_) * pages_to_pick_);
    selected_count_.resize(selection_rows_);
  }
}

void DecodeRunner::fill_pools_by_prefill(const Workload& workload, const RunOptions& options) {
  const std::vector<int64_t> prompt_queries{num_q_heads_, context_len_, head_dim_};
  for (const Sequence& sequence : workload.batch)
    if (sequence.q.shape() != prompt_queries)
      throw std::invalid_argument("cuda decode: cache_fill prefill needs the prompt's queries "
                                  "[num_q_heads, T, head_dim] in the workload");
  // The decode plan's head layout: streaming heads run as streaming prefill heads, the others dense
  // causal.
  const PrefillPlan prefill_plan = make_prefill_plan(
      workload.shape, plan_.heads, plan_.prefill_block_size, uses_streaming_heads(plan_.mode));
  std::optional<DevicePrefill> prefill;
  {
    NvtxRange range(nvtx_label_, "prefill_upload");
    prefill.emplace(workload, prefill_plan);
  }
  if (prefill->empty()) return;
  // Rewriting the pools from the same K/V leaves them unchanged, so the timing can repeat the whole
  // fill. The attention output goes to the prefill's own buffer: decode does not read it.
  const auto fill = [&](cudaStream_t on) {
    prefill->launch(on);
    write_pools_from(*prefill, on);
  };
  {
    NvtxRange range(nvtx_label_, "prefill");
    prefill->poison_output(stream_);
    fill(stream_);
  }
  // Unwritten outputs keep the NaN poison: a prefill that skipped rows does not go unnoticed even
  // though decode never reads them.
  if (const int64_t nonfinite = prefill->count_nonfinite_output(stream_); nonfinite > 0)
    throw std::runtime_error("cuda decode: the prefill that filled the cache left " +
                             std::to_string(nonfinite) + " non-finite outputs");
  if (options.measure) {
    const GpuTiming timing = time_gpu(
        [&](cudaStream_t on) {
          const NvtxRange range(nvtx_label_, "prefill");
          fill(on);
        },
        timing_for(options), stream_);
    prefill_us_ = timing.median_us;
  }
}

void DecodeRunner::write_pools_from(const DevicePrefill& prefill, cudaStream_t stream) {
  const auto write_pool = [&](PagedKvCache& pool, const std::vector<int32_t>& heads) {
    const int pool_heads = static_cast<int>(heads.size());
    for (int b = 0; b < batch_; ++b)
      for (int h = 0; h < pool_heads; ++h)
        pool.write_prefill_from_device(b * pool_heads + h, prefill.key_rows(b, heads[h]),
                                       prefill.value_rows(b, heads[h]), prefill.dtype(),
                                       context_len_, prefill.token_stride(), stream);
  };
  if (dense_pool_) write_pool(*dense_pool_, dense_heads_);
  if (streaming_pool_) write_pool(*streaming_pool_, streaming_heads_);
}

DecodeRunner::PoolLaunch DecodeRunner::plan_pool_launch(DecodeVariant variant, int pool_rows,
                                                         int heads_per_load, int max_chunks) const {
  const int work_items = pool_rows * (group_size_ / heads_per_load);
  const int wanted_splits = static_cast<int>(ceil_div(kBlocksPerSmTarget * sm_count_, work_items));
  int splits = std::clamp(wanted_splits, 1, std::min(std::max(max_chunks, 1), kMaxSplits));
  const int chunks_per_split = static_cast<int>(ceil_div(std::max(max_chunks, 1), splits));
  splits = static_cast<int>(ceil_div(std::max(max_chunks, 1), chunks_per_split));
  return {variant, heads_per_load, splits, chunks_per_split};
}

void DecodeRunner::enqueue_attention(PagedKvCache& pool, const PoolLaunch& launch,
                                     const DeviceBuffer<int32_t>& kv_head_of_pool_head,
                                     int num_tokens, const float* query) {
  const PoolShape& shape = pool.shape();
  DecodeAttentionParams params{};
  UNISPARSE_DISPATCH_KV_DTYPE(pool.stats_dtype(), KvType, [&] {
    const PagedKvView<KvType> view = pool.view<KvType>();
    params.keys = view.keys;
    params.values = view.values;
    params.maybe_key_params = view.maybe_key_params;
    params.maybe_value_params = view.maybe_value_params;
    params.maybe_key_row_scale = view.maybe_key_row_scale;
    params.maybe_value_row_scale = view.maybe_value_row_scale;
    params.page_indptr = view.page_indptr;
    params.page_indices = view.page_indices;
  });
  params.query = query;
  params.kv_head_of_pool_head = kv_head_of_pool_head.data();
  if (launch.variant == DecodeVariant::selected_pages) {
    params.maybe_selected = selected_.data();
    params.maybe_selected_count = selected_count_.data();
    params.selected_stride = pages_to_pick_;
  }
  params.pages_to_pick = pages_to_pick_;
  params.partial_out = partial_out_.data();
  params.partial_max = partial_max_.data();
  params.partial_sum = partial_sum_.data();
  params.max_splits = max_splits_;
  params.chunks_per_split = launch.chunks_per_split;
  params.pool_heads = shape.rows / batch_;
  params.num_q_heads = num_q_heads_;
  params.group_size = group_size_;
  params.page_size = page_size_;
  params.num_tokens = num_tokens;
  params.sink_tokens = shape.sink_tokens;
  params.local_tokens = shape.local_tokens;
  params.sink_pages = shape.sink_pages();
  params.ring_pages = shape.ring_pages();
  params.scale_log2 = static_cast<float>(1.0 / std::sqrt(double(head_dim_)) * M_LOG2E);
  launch_decode_attention(params, launch.variant, pool.storage(), head_dim_, launch.heads_per_load,
                          shape.rows, launch.num_splits, stream_);
}

void DecodeRunner::enqueue_step(int step, bool run_selector) {
  const int position = context_len_ + step;
  const int num_tokens = position + 1;
  const float* query = queries_.data() + int64_t(step) * batch_ * num_q_heads_ * head_dim_;
  const int64_t kv_offset = int64_t(step) * batch_ * num_kv_heads_ * head_dim_;
  {
    NvtxRange range(nvtx_label_, "stats");
    append_token_to_pools(dense_pool_ ? &*dense_pool_ : nullptr, dense_source_row_.data(),
                          streaming_pool_ ? &*streaming_pool_ : nullptr, streaming_source_row_.data(),
                          new_keys_.data() + kv_offset, new_values_.data() + kv_offset, position,
                          stream_);
  }
  const int num_pages = static_cast<int>(ceil_div(num_tokens, page_size_));
  if (uses_selection_ && run_selector) {
    const PoolShape& shape = dense_pool_->shape();
    {
      NvtxRange range(nvtx_label_, "selector");
      PageScoreParams params{};
      UNISPARSE_DISPATCH_KV_DTYPE(dense_pool_->stats_dtype(), KvType, [&] {
        const PagedKvView<KvType> view = dense_pool_->view<KvType>();
        params.key_max = view.maybe_key_max;
        params.key_min = view.maybe_key_min;
      });
      params.query = query;
      params.kv_head_of_pool_head = dense_kv_head_of_pool_head_.data();
      params.page_scores = page_scores_.data();
      params.score_stride = shape.pages_per_row();
      params.pool_heads = shape.rows / batch_;
      params.num_q_heads = num_q_heads_;
      params.head_dim = head_dim_;
      params.logical_pages_per_row = shape.logical_pages_per_row();
      params.logical_per_physical = page_size_ / shape.logical_page_size;
      params.num_scored_pages = num_pages - 1;
      params.gqa = plan_.policy.gqa_selection;
      launch_page_scores(params, dense_pool_->stats_dtype(), group_size_, shape.rows, stream_);
    }
    {
      NvtxRange range(nvtx_label_, "topk");
      TopkParams params{page_scores_.data(), shape.pages_per_row(), num_pages, pages_to_pick_,
                        selected_.data(), selected_count_.data(), pages_to_pick_};
      launch_topk(params, selection_rows_, stream_);
    }
  }
  {
    NvtxRange range(nvtx_label_, "attention");
    if (dense_pool_)
      enqueue_attention(*dense_pool_, dense_launch_, dense_kv_head_of_pool_head_, num_tokens, query);
    if (streaming_pool_)
      enqueue_attention(*streaming_pool_, streaming_launch_, streaming_kv_head_of_pool_head_,
                        num_tokens, query);
  }
  {
    NvtxRange range(nvtx_label_, "merge");
    DecodeMergeParams params{partial_out_.data(), partial_max_.data(), partial_sum_.data(),
                             num_splits_of_q_head_.data(), out_.data(), max_splits_, num_q_heads_,
                             head_dim_, steps_, step};
    launch_decode_merge(params, batch_, stream_);
  }
}

Csr DecodeRunner::attended_pages(int step) {
  const int num_tokens = context_len_ + step + 1;
  const int num_pages = static_cast<int>(ceil_div(num_tokens, page_size_));
  UNISPARSE_CUDA_CHECK(cudaStreamSynchronize(stream_));
  if (selector_runs_at(step)) {
    host_selected_ = selected_.download();
    host_selected_count_ = selected_count_.download();
  }
  const bool per_query_head = plan_.policy.gqa_selection == GqaSelection::per_query_head;
  std::vector<int32_t> all_pages(num_pages);
  for (int page = 0; page < num_pages; ++page) all_pages[page] = page;
  const std::vector<int32_t> streaming_pages = pages_of_ranges(
      attended_ranges(true, plan_.heads.sink_tokens, plan_.heads.local_tokens, page_size_, {}, num_tokens),
      page_size_);

  Csr pages;
  std::vector<int32_t> row;
  for (int b = 0; b < batch_; ++b)
    for (int h = 0; h < num_q_heads_; ++h) {
      const int kv = h / group_size_;
      const auto dense_at = std::find(dense_heads_.begin(), dense_heads_.end(), kv);
      if (dense_at == dense_heads_.end()) {
        pages.append_row(streaming_pages);
        continue;
      }
      if (!uses_selection_ || num_pages <= pages_to_pick_) {
        pages.append_row(all_pages);
        continue;
      }
      // Same rule as the SelectedPages variant: the cached selection plus the current last page.
      const int pool_row = b * int(dense_heads_.size()) + int(dense_at - dense_heads_.begin());
      const int selection_row = per_query_head ? pool_row * group_size_ + h % group_size_ : pool_row;
      const int32_t* cached = host_selected_.data() + int64_t(selection_row) * pages_to_pick_;
      row.assign(cached, cached + host_selected_count_[selection_row]);
      row.push_back(num_pages - 1);
      pages.append_row(row);
    }
  return pages;
}

std::vector<Tensor> DecodeRunner::outputs() {
  UNISPARSE_CUDA_CHECK(cudaStreamSynchronize(stream_));
  const std::vector<float> host = out_.download();
  std::vector<Tensor> out;
  const int64_t per_sequence = int64_t(steps_) * num_q_heads_ * head_dim_;
  for (int b = 0; b < batch_; ++b) {
    Tensor tensor({steps_, num_q_heads_, head_dim_});
    std::copy_n(host.begin() + b * per_sequence, per_sequence, tensor.data());
    out.push_back(std::move(tensor));
  }
  return out;
}

}  // namespace unisparse::cuda
