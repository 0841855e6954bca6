#include "kernels/decode/decode_runner.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "framework/core/error.h"
#include "framework/core/kv_quant.h"
#include "kernels/common/dispatch.h"
#include "kernels/common/launch_limits.h"
#include "kernels/decode/split_plan.h"
#include "kernels/profile/gpu_timer.h"
#include "kernels/profile/nvtx.h"
#include "kernels/select/selector.h"

namespace unisparse::cuda {
namespace {

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
  if (page_size_ <= 0 || page_size_ > limits::kMaxPageSize || head_dim_ % 8 != 0)
    throw Unsupported("cuda decode: page_size " + std::to_string(page_size_) + " (1.." +
                      std::to_string(limits::kMaxPageSize) + ") / head_dim " + std::to_string(head_dim_) +
                      " not supported");
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

  // Launch shapes are fixed for the run, sized for the longest context it reaches (the kernels
  // split the chunks of the current step evenly over the splits).
  const bool per_query_head = plan.policy.gqa_selection == GqaSelection::per_query_head;
  if (dense_pool_) {
    const int heads_per_load = uses_selection_ && per_query_head ? 1 : group_size_;
    const int max_chunks = uses_selection_ ? std::min(capacity_pages, pages_to_pick_) : capacity_pages;
    dense_launch_ = plan_pool_launch(uses_selection_ ? DecodeVariant::selected_pages : DecodeVariant::all_pages,
                                     storage, dense_pool_->shape().rows, heads_per_load, max_chunks);
  }
  if (streaming_pool_) {
    const int max_chunks = streaming_pool_->shape().sink_pages() + streaming_pool_->shape().ring_pages();
    streaming_launch_ = plan_pool_launch(DecodeVariant::streaming_window, storage,
                                         streaming_pool_->shape().rows, group_size_, max_chunks);
  }
  max_splits_ = std::max(dense_launch_.num_splits, streaming_launch_.num_splits);
  const int64_t partial_rows = int64_t(batch_) * num_q_heads_ * max_splits_;
  partial_out_.resize(partial_rows * head_dim_);
  partial_max_.resize(partial_rows);
  partial_sum_.resize(partial_rows);
  step_shape_ = {dense_pool_.has_value(), streaming_pool_.has_value(), uses_selection_, context_len_,
                 page_size_, dense_launch_.num_splits, streaming_launch_.num_splits};

  if (uses_selection_) {
    selection_rows_ = dense_pool_->shape().rows * selection_rows_per_pool_row(plan.policy.gqa_selection, group_size_);
    page_scores_.resize(int64_t(selection_rows_) * dense_pool_->shape().pages_per_row());
    selected_.resize(int64_t(selection_rows_) * pages_to_pick_);
    selected_count_.resize(selection_rows_);
    // The attention reads a selection entry before it knows whether the entry is listed: defined
    // bytes, never used.
    UNISPARSE_CUDA_CHECK(cudaMemset(selected_.data(), 0, selected_.size() * sizeof(int32_t)));
    prepare_topk(dense_pool_->shape().pages_per_row());
  }
  UNISPARSE_CUDA_CHECK(cudaStreamCreateWithFlags(&branch_stream_, cudaStreamNonBlocking));
  UNISPARSE_CUDA_CHECK(cudaEventCreateWithFlags(&fork_, cudaEventDisableTiming));
  UNISPARSE_CUDA_CHECK(cudaEventCreateWithFlags(&join_, cudaEventDisableTiming));
}

DecodeRunner::~DecodeRunner() {
  cudaStreamSynchronize(stream_);  // no step (graph or not) still reads the buffers freed below
  if (branch_stream_) {
    cudaStreamSynchronize(branch_stream_);
    cudaStreamDestroy(branch_stream_);
  }
  if (fork_) cudaEventDestroy(fork_);
  if (join_) cudaEventDestroy(join_);
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

DecodeRunner::PoolLaunch DecodeRunner::plan_pool_launch(DecodeVariant variant, DType storage, int pool_rows,
                                                         int heads_per_load, int max_chunks) const {
  PoolLaunch launch;
  launch.kernel = {variant, storage, head_dim_, heads_per_load};
  launch.work_items = pool_rows * (group_size_ / heads_per_load);
  const int blocks_per_sm = prepare_decode_attention(launch.kernel);
  launch.num_splits = plan_splits({launch.work_items, std::max(max_chunks, 1), page_size_,
                                   blocks_per_sm * sm_count_});
  return launch;
}

void DecodeRunner::enqueue_attention(PagedKvCache& pool, const PoolLaunch& launch,
                                     const DeviceBuffer<int32_t>& kv_head_of_pool_head, int step,
                                     const float* query, bool merge, cudaStream_t stream) {
  const PoolShape& shape = pool.shape();
  DecodeAttentionParams params{};
  UNISPARSE_DISPATCH_KV_DTYPE("cuda decode", pool.stats_dtype(), KvType, [&] {
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
  if (launch.kernel.variant == DecodeVariant::selected_pages) {
    params.maybe_selected = selected_.data();
    params.maybe_selected_count = selected_count_.data();
    params.selected_stride = pages_to_pick_;
  }
  params.pages_to_pick = pages_to_pick_;
  params.partial_out = partial_out_.data();
  params.partial_max = partial_max_.data();
  params.partial_sum = partial_sum_.data();
  params.out = out_.data();
  params.max_splits = max_splits_;
  params.num_splits = launch.num_splits;
  params.steps = steps_;
  params.step = step;
  params.pool_heads = shape.rows / batch_;
  params.num_q_heads = num_q_heads_;
  params.group_size = group_size_;
  params.page_size = page_size_;
  params.num_tokens = context_len_ + step + 1;
  params.sink_tokens = shape.sink_tokens;
  params.local_tokens = shape.local_tokens;
  params.sink_pages = shape.sink_pages();
  params.ring_pages = shape.ring_pages();
  params.scale_log2 = static_cast<float>(1.0 / std::sqrt(double(head_dim_)) * M_LOG2E);
  {
    NvtxRange range(nvtx_label_, "attention");
    launch_decode_attention(params, launch.kernel, launch.work_items, stream);
  }
  if (!merge) return;
  NvtxRange range(nvtx_label_, "merge");
  const DecodeMergeParams merge_params{partial_out_.data(), partial_max_.data(), partial_sum_.data(),
                                       kv_head_of_pool_head.data(), out_.data(), launch.num_splits,
                                       max_splits_, params.pool_heads, group_size_, num_q_heads_,
                                       head_dim_, steps_, step};
  launch_decode_merge(merge_params, shape.rows, stream);
}

void DecodeRunner::enqueue_selection(int step, bool scores, const float* query) {
  const int num_pages = static_cast<int>(ceil_div(context_len_ + step + 1, page_size_));
  const PoolShape& shape = dense_pool_->shape();
  if (scores) {
    NvtxRange range(nvtx_label_, "selector");
    PageScoreParams params{};
    UNISPARSE_DISPATCH_KV_DTYPE("cuda selector", dense_pool_->stats_dtype(), KvType, [&] {
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
    params.logical_page_stride = shape.logical_pages_per_row();
    params.logical_per_physical = page_size_ / shape.logical_page_size;
    params.num_scored_pages = num_pages - 1;
    params.gqa = plan_.policy.gqa_selection;
    launch_page_scores(params, dense_pool_->stats_dtype(), group_size_, shape.rows, stream_);
  }
  NvtxRange range(nvtx_label_, "topk");
  const TopkParams params{page_scores_.data(), shape.pages_per_row(), num_pages, pages_to_pick_,
                          selected_.data(), selected_count_.data(), pages_to_pick_};
  launch_topk(params, selection_rows_, stream_);
}

void DecodeRunner::enqueue_step(int step, bool run_selector) {
  const StepLaunches launches = launches_at(step, run_selector);
  const int position = context_len_ + step;
  const float* query = queries_.data() + int64_t(step) * batch_ * num_q_heads_ * head_dim_;
  const int64_t kv_offset = int64_t(step) * batch_ * num_kv_heads_ * head_dim_;
  if (launches.append) {
    NvtxRange range(nvtx_label_, "stats");
    append_token_to_pools(dense_pool_ ? &*dense_pool_ : nullptr, dense_source_row_.data(),
                          streaming_pool_ ? &*streaming_pool_ : nullptr, streaming_source_row_.data(),
                          new_keys_.data() + kv_offset, new_values_.data() + kv_offset, position,
                          stream_);
  }
  // The streaming pool needs only the append: its branch forks here, runs beside the selection and
  // the dense pool's attention, and joins the stream before the step ends. It is enqueued after the
  // dense pool, so that the dense pool's kernels come first in launch order (and its blocks fill
  // the GPU first; the streaming pool's few blocks fill the dense pool's tail).
  if (launches.streaming_attention) UNISPARSE_CUDA_CHECK(cudaEventRecord(fork_, stream_));
  if (launches.topk) enqueue_selection(step, launches.page_scores, query);
  if (launches.dense_attention)
    enqueue_attention(*dense_pool_, dense_launch_, dense_kv_head_of_pool_head_, step, query,
                      launches.dense_merge, stream_);
  if (launches.streaming_attention) {
    UNISPARSE_CUDA_CHECK(cudaStreamWaitEvent(branch_stream_, fork_, 0));
    enqueue_attention(*streaming_pool_, streaming_launch_, streaming_kv_head_of_pool_head_, step, query,
                      launches.streaming_merge, branch_stream_);
    UNISPARSE_CUDA_CHECK(cudaEventRecord(join_, branch_stream_));
    UNISPARSE_CUDA_CHECK(cudaStreamWaitEvent(stream_, join_, 0));
  }
}

void DecodeRunner::capture_step_graph(int step, bool run_selector) {
  const StepLaunches key = launches_at(step, run_selector);
  graphs_.capture(key, [&](cudaStream_t) { enqueue_step(step, run_selector); }, stream_);
  captured_step_[key] = {step, run_selector};
}

void DecodeRunner::launch_step_graph(int step, bool run_selector) {
  const StepLaunches key = launches_at(step, run_selector);
  const auto captured = captured_step_.find(key);
  if (captured == captured_step_.end() || captured->second != std::pair{step, run_selector})
    throw std::logic_error("DecodeRunner: step " + std::to_string(step) +
                           " is launched as a graph without being captured");
  graphs_.launch(key, stream_);
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
