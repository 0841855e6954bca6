#include "framework/sparse/decode_session.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>

#include "framework/core/dtype.h"
#include "framework/core/kv_quant.h"
#include "framework/core/parallel.h"
#include "framework/sparse/cpu_attention.h"

namespace unisparse {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Ascending ids of the physical pages that the given token ranges touch.
std::vector<int32_t> pages_of_ranges(std::span<const TokenRange> ranges, int physical_page_size) {
  std::vector<int32_t> pages;
  for (const TokenRange& range : ranges) {
    const int first = range.begin / physical_page_size;
    const int last = (range.end - 1) / physical_page_size;
    for (int page = first; page <= last; ++page)
      if (pages.empty() || pages.back() < page) pages.push_back(page);
  }
  return pages;
}

bool stores_as_given(DType kv_storage) { return kv_storage == DType::fp32; }

// A tensor [rows, heads, head_dim] holding the first `kept` rows of `old` and room for `rows`.
Tensor grown(const Tensor& old, int64_t rows, int64_t heads, int64_t head_dim, int64_t kept) {
  Tensor bigger({rows, heads, head_dim});
  if (kept > 0) std::memcpy(bigger.data(), old.data(), sizeof(float) * kept * heads * head_dim);
  return bigger;
}

}  // namespace

void store_kv_row(std::span<float> row, DType kv_storage, float fp8_scale) {
  if (is_quantized(kv_storage))
    quantize_dequantize_row(row, kv_storage, fp8_scale, row);
  else
    round_to_dtype(row, kv_storage);
}

DecodeSession::DecodeSession(const ModelShape& shape, const DecodePlan& plan, int batch,
                             int reserve_steps)
    : shape_(shape), plan_(plan), batch_(batch), select_pages_(uses_page_selection(plan.mode)) {
  if (shape.num_q_heads <= 0 || shape.num_kv_heads <= 0 || shape.head_dim <= 0 ||
      shape.num_q_heads % shape.num_kv_heads)
    throw std::invalid_argument("decode session: query heads must be a positive multiple of KV "
                                "heads, head_dim positive");
  if (batch <= 0) throw std::invalid_argument("decode session: batch must be positive");
  if (plan.geometry.physical_page_size <= 0)
    throw std::invalid_argument("decode session: physical page size must be positive");
  streaming_kv_head_.assign(shape.num_kv_heads, false);
  if (uses_streaming_heads(plan.mode)) {
    if (static_cast<int>(plan.heads.kv_head_kind.size()) != shape.num_kv_heads)
      throw std::invalid_argument("decode session: the plan's head layout has " +
                                  std::to_string(plan.heads.kv_head_kind.size()) +
                                  " KV heads, the shape " + std::to_string(shape.num_kv_heads));
    for (int kv = 0; kv < shape.num_kv_heads; ++kv) streaming_kv_head_[kv] = plan.heads.is_streaming(kv);
  }
  if (select_pages_) {
    // The selector checks the geometry and policy (it throws on a bad budget or page size).
    std::vector<bool> dense_kv_head(shape.num_kv_heads);
    for (int kv = 0; kv < shape.num_kv_heads; ++kv) dense_kv_head[kv] = !streaming_kv_head_[kv];
    selector_.emplace(shape, plan.geometry, plan.policy, batch, std::move(dense_kv_head),
                      plan.selector);
  }
  keys_.name = "decode session";
  keys_.shape = shape;
  keys_.heads = plan.heads;
  keys_.dtype = DType::fp32;
  keys_.batch.resize(batch);
  reserve(std::max(reserve_steps, 1));
}

void DecodeSession::check_sizes(std::span<const float> values, int64_t expected,
                                const char* what) const {
  if (static_cast<int64_t>(values.size()) != expected)
    throw std::invalid_argument(std::string("decode session: ") + what + " has " +
                                std::to_string(values.size()) + " values, expected " +
                                std::to_string(expected));
}

void DecodeSession::reserve(int steps) {
  const int capacity = keys_.decode_steps;
  if (steps <= capacity) return;
  const int rows = std::max(steps, 2 * capacity);
  for (Sequence& seq : keys_.batch) {
    seq.q_decode = grown(seq.q_decode, rows, shape_.num_q_heads, shape_.head_dim, steps_);
    seq.k_decode = grown(seq.k_decode, rows, shape_.num_kv_heads, shape_.head_dim, steps_);
    seq.v_decode = grown(seq.v_decode, rows, shape_.num_kv_heads, shape_.head_dim, steps_);
  }
  keys_.decode_steps = rows;
  if (!stored_) return;
  for (Sequence& seq : stored_->batch) {
    seq.k_decode = grown(seq.k_decode, rows, shape_.num_kv_heads, shape_.head_dim, steps_);
    seq.v_decode = grown(seq.v_decode, rows, shape_.num_kv_heads, shape_.head_dim, steps_);
  }
  stored_->decode_steps = rows;
}

void DecodeSession::prefill(std::span<const float> keys, std::span<const float> values,
                            int num_tokens) {
  if (stores_as_given(plan_.kv_storage)) {
    prefill(keys, values, keys, values, num_tokens);
    return;
  }
  // The image the cache stores, per (sequence, KV head): fp8 scales over the prompt's rows.
  std::vector<float> stored_keys(keys.begin(), keys.end()), stored_values(values.begin(), values.end());
  const int64_t head_size = int64_t{num_tokens} * shape_.head_dim;
  const int64_t heads = int64_t{batch_} * shape_.num_kv_heads;
  check_sizes(keys, heads * head_size, "prefill keys");
  check_sizes(values, heads * head_size, "prefill values");
  key_scales_.assign(heads, 1.0f);
  value_scales_.assign(heads, 1.0f);
  parallel_for(heads, [&](int64_t head) {
    const auto store_head = [&](std::vector<float>& image, std::vector<float>& scales) {
      const std::span<float> rows(image.data() + head * head_size, static_cast<size_t>(head_size));
      scales[head] = e4m3_scale(rows);
      for (int64_t t = 0; t < num_tokens; ++t)
        store_kv_row(rows.subspan(t * shape_.head_dim, shape_.head_dim), plan_.kv_storage,
                     scales[head]);
    };
    store_head(stored_keys, key_scales_);
    store_head(stored_values, value_scales_);
  });
  prefill(keys, values, stored_keys, stored_values, num_tokens);
}

void DecodeSession::prefill(std::span<const float> keys, std::span<const float> values,
                            std::span<const float> stored_keys,
                            std::span<const float> stored_values, int num_tokens) {
  if (prefilled_) throw std::logic_error("decode session: prefill runs once, before the first step");
  if (num_tokens < 0) throw std::invalid_argument("decode session: negative prompt length");
  const int64_t sequence_size = int64_t{shape_.num_kv_heads} * num_tokens * shape_.head_dim;
  check_sizes(keys, batch_ * sequence_size, "prefill keys");
  check_sizes(values, batch_ * sequence_size, "prefill values");
  check_sizes(stored_keys, batch_ * sequence_size, "prefill stored keys");
  check_sizes(stored_values, batch_ * sequence_size, "prefill stored values");
  const bool aliased = stored_keys.data() == keys.data() && stored_values.data() == values.data();
  if (!aliased) {
    stored_.emplace();
    stored_->name = keys_.name;
    stored_->shape = shape_;
    stored_->heads = plan_.heads;
    stored_->batch.resize(batch_);
    stored_->decode_steps = keys_.decode_steps;
  }
  const auto copy = [&](std::span<const float> from, int b) {
    Tensor tensor({shape_.num_kv_heads, num_tokens, shape_.head_dim});
    std::copy_n(from.data() + b * sequence_size, sequence_size, tensor.data());
    return tensor;
  };
  keys_.context_len = num_tokens;
  for (int b = 0; b < batch_; ++b) {
    keys_.batch[b].k = copy(keys, b);
    keys_.batch[b].v = copy(values, b);
    if (!stored_) continue;
    stored_->batch[b].k = copy(stored_keys, b);
    stored_->batch[b].v = copy(stored_values, b);
    stored_->batch[b].k_decode = Tensor({keys_.decode_steps, shape_.num_kv_heads, shape_.head_dim});
    stored_->batch[b].v_decode = Tensor({keys_.decode_steps, shape_.num_kv_heads, shape_.head_dim});
  }
  if (stored_) stored_->context_len = num_tokens;
  // Statistics after the prefill belong to the prefill, not to the timed decode phases; the oracle
  // ranks pages by the keys themselves and keeps none.
  if (select_pages_ && plan_.selector == PageSelectorKind::quest)
    stats_.emplace(keys_, plan_.geometry.logical_page_size);
  prefilled_ = true;
}

const Csr& DecodeSession::step(std::span<const float> queries, std::span<const float> keys,
                               std::span<const float> values, std::span<float> out) {
  if (stores_as_given(plan_.kv_storage)) return step(queries, keys, values, keys, values, out);
  const int64_t row_values = int64_t{batch_} * shape_.num_kv_heads * shape_.head_dim;
  check_sizes(keys, row_values, "step keys");
  check_sizes(values, row_values, "step values");
  std::vector<float> stored_keys(keys.begin(), keys.end()), stored_values(values.begin(), values.end());
  const bool fp8 = plan_.kv_storage == DType::fp8;
  for (int64_t head = 0; head < int64_t{batch_} * shape_.num_kv_heads; ++head) {
    const auto row = [&](std::vector<float>& image) {
      return std::span<float>(image.data() + head * shape_.head_dim, shape_.head_dim);
    };
    store_kv_row(row(stored_keys), plan_.kv_storage, fp8 ? key_scales_.at(head) : 1.0f);
    store_kv_row(row(stored_values), plan_.kv_storage, fp8 ? value_scales_.at(head) : 1.0f);
  }
  return step(queries, keys, values, stored_keys, stored_values, out);
}

const Csr& DecodeSession::step(std::span<const float> queries, std::span<const float> keys,
                               std::span<const float> values, std::span<const float> stored_keys,
                               std::span<const float> stored_values, std::span<float> out) {
  if (!prefilled_) throw std::logic_error("decode session: step before prefill");
  const int64_t q_row = int64_t{shape_.num_q_heads} * shape_.head_dim;
  const int64_t kv_row = int64_t{shape_.num_kv_heads} * shape_.head_dim;
  check_sizes(queries, batch_ * q_row, "step queries");
  check_sizes(keys, batch_ * kv_row, "step keys");
  check_sizes(values, batch_ * kv_row, "step values");
  check_sizes(out, batch_ * q_row, "step output");
  if (stored_) {
    check_sizes(stored_keys, batch_ * kv_row, "step stored keys");
    check_sizes(stored_values, batch_ * kv_row, "step stored values");
  }
  const int step = steps_;
  reserve(step + 1);
  for (int b = 0; b < batch_; ++b) {
    Sequence& seq = keys_.batch[b];
    std::copy_n(queries.data() + b * q_row, q_row, seq.q_decode.row({step}));
    std::copy_n(keys.data() + b * kv_row, kv_row, seq.k_decode.row({step}));
    std::copy_n(values.data() + b * kv_row, kv_row, seq.v_decode.row({step}));
    if (!stored_) continue;
    std::copy_n(stored_keys.data() + b * kv_row, kv_row, stored_->batch[b].k_decode.row({step}));
    std::copy_n(stored_values.data() + b * kv_row, kv_row, stored_->batch[b].v_decode.row({step}));
  }
  const int page_size = plan_.geometry.physical_page_size;
  const int num_tokens = keys_.tokens_at_step(step);
  const int num_pages = static_cast<int>(ceil_div(num_tokens, page_size));

  Csr selected;  // rows of dense heads under page selection
  if (select_pages_) {
    auto start = Clock::now();
    if (stats_) stats_->append_decode_token(keys_, step);
    seconds_.stats += seconds_since(start);
    start = Clock::now();
    selected = selector_->select(step, num_tokens, stats_ ? &*stats_ : nullptr, keys_);
    seconds_.selector += seconds_since(start);
  }

  const auto start = Clock::now();
  std::vector<int32_t> every_page(num_pages);
  std::iota(every_page.begin(), every_page.end(), 0);
  const std::vector<TokenRange> streaming_ranges = attended_ranges(
      true, plan_.heads.sink_tokens, plan_.heads.local_tokens, page_size, {}, num_tokens);
  const std::vector<int32_t> streaming_pages = pages_of_ranges(streaming_ranges, page_size);
  const int num_rows = batch_ * shape_.num_q_heads;
  selection_ = Csr();
  for (int row = 0; row < num_rows; ++row) {
    const int kv_head = shape_.kv_head_of(row % shape_.num_q_heads);
    if (streaming_kv_head_[kv_head])
      selection_.append_row(streaming_pages);
    else if (select_pages_)
      selection_.append_row(selected.row(row));
    else
      selection_.append_row(every_page);
  }

  const Workload& cache = attended();
  const auto head_dim = static_cast<size_t>(shape_.head_dim);
  parallel_for(num_rows, [&](int64_t row_index) {
    const int row = static_cast<int>(row_index);
    const int b = row / shape_.num_q_heads;
    const int q_head = row % shape_.num_q_heads;
    const int kv_head = shape_.kv_head_of(q_head);
    const std::vector<TokenRange> ranges =
        streaming_kv_head_[kv_head]
            ? streaming_ranges
            : attended_ranges(false, 0, 0, page_size, selection_.row(row), num_tokens);
    attend_token_ranges({keys_.batch[b].q_decode.row({step, q_head}), head_dim}, ranges, cache, b,
                        kv_head, out.subspan(static_cast<size_t>(row) * head_dim, head_dim));
  });
  seconds_.attention += seconds_since(start);
  ++steps_;
  return selection_;
}

std::span<const float> DecodeSession::stored_key(int b, int kv_head, int token) const {
  return {attended().key(b, kv_head, token), static_cast<size_t>(shape_.head_dim)};
}

std::span<const float> DecodeSession::stored_value(int b, int kv_head, int token) const {
  return {attended().value(b, kv_head, token), static_cast<size_t>(shape_.head_dim)};
}

}  // namespace unisparse
