#include "framework/sparse/cpu_decode.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "framework/core/kv_quant.h"
#include "framework/core/parallel.h"

namespace unisparse {

namespace {

void check_decode_inputs(const Workload& workload, const DecodePlan& plan) {
  const ModelShape& shape = workload.shape;
  if (shape.num_q_heads <= 0 || shape.num_kv_heads <= 0 || shape.num_q_heads % shape.num_kv_heads)
    throw std::invalid_argument("cpu decode: query heads must be a multiple of KV heads");
  if (plan.geometry.physical_page_size <= 0)
    throw std::invalid_argument("cpu decode: physical page size must be positive");
  if (uses_streaming_heads(plan.mode) &&
      static_cast<int>(plan.heads.kv_head_kind.size()) != shape.num_kv_heads)
    throw std::invalid_argument("cpu decode: the plan's head layout does not match the KV heads");
  for (const Sequence& seq : workload.batch)
    if (seq.q_decode.rank() != 3 || seq.q_decode.dim(0) < workload.decode_steps ||
        seq.k_decode.rank() != 3 || seq.k_decode.dim(0) < workload.decode_steps)
      throw std::invalid_argument("cpu decode: the workload lacks decode queries or keys");
}

// Replaces every [head_dim] row of a KV head's tokens, prefill ([kv_heads, T, d]) then decode
// ([steps, kv_heads, d]), by what a cache in `format` stores (fp8: one scale over the prefill rows).
void store_head_rows(Tensor& prefill, Tensor& decode, int kv_head, int head_dim, DType format) {
  std::span<const float> prefill_head;  // [T * d]
  if (!prefill.empty())
    prefill_head = {prefill.row({kv_head}), static_cast<size_t>(prefill.size() / prefill.dim(0))};
  const float fp8_scale = e4m3_scale(prefill_head);
  const auto store = [&](float* row) {
    store_kv_row({row, static_cast<size_t>(head_dim)}, format, fp8_scale);
  };
  for (int64_t t = 0; !prefill.empty() && t < prefill.dim(1); ++t) store(prefill.row({kv_head, t}));
  for (int64_t s = 0; !decode.empty() && s < decode.dim(0); ++s) store(decode.row({s, kv_head}));
}

// The tensors of every sequence one after another ([batch, ...]): a view of the only sequence's
// tensor when the batch is 1, else a copy into `gathered`.
std::span<const float> batch_span(const Workload& workload, const Tensor Sequence::*member,
                                  std::vector<float>& gathered) {
  if (workload.batch_size() == 1) {
    const Tensor& tensor = workload.batch[0].*member;
    return {tensor.data(), static_cast<size_t>(tensor.size())};
  }
  gathered.clear();
  for (const Sequence& seq : workload.batch) {
    const Tensor& tensor = seq.*member;
    gathered.insert(gathered.end(), tensor.data(), tensor.data() + tensor.size());
  }
  return gathered;
}

// Row `step` of a [steps, heads, head_dim] decode tensor of every sequence ([batch, heads, d]).
std::span<const float> step_rows(const Workload& workload, const Tensor Sequence::*member,
                                 int step, std::vector<float>& gathered) {
  const auto row_size = [&](const Tensor& tensor) {
    return static_cast<size_t>(tensor.dim(1) * tensor.dim(2));
  };
  if (workload.batch_size() == 1) {
    const Tensor& tensor = workload.batch[0].*member;
    return {tensor.row({step}), row_size(tensor)};
  }
  gathered.clear();
  for (const Sequence& seq : workload.batch) {
    const Tensor& tensor = seq.*member;
    gathered.insert(gathered.end(), tensor.row({step}), tensor.row({step}) + row_size(tensor));
  }
  return gathered;
}

}  // namespace

Workload kv_as_stored(const Workload& workload, DType kv_storage) {
  if (!is_quantized(kv_storage))
    throw std::invalid_argument("kv_as_stored: " + std::string(to_string(kv_storage)) +
                                " is not a quantized KV format");
  Workload stored = workload;
  const int kv_heads = workload.shape.num_kv_heads;
  const int head_dim = workload.shape.head_dim;
  parallel_for(int64_t{workload.batch_size()} * kv_heads, [&](int64_t index) {
    Sequence& seq = stored.batch[index / kv_heads];
    const int kv_head = static_cast<int>(index % kv_heads);
    store_head_rows(seq.k, seq.k_decode, kv_head, head_dim, kv_storage);
    store_head_rows(seq.v, seq.v_decode, kv_head, head_dim, kv_storage);
  });
  return stored;
}

CpuDecodeResult cpu_decode(const Workload& workload, const DecodePlan& plan) {
  if (!is_quantized(plan.kv_storage)) return cpu_decode(workload, workload, plan);
  return cpu_decode(workload, kv_as_stored(workload, plan.kv_storage), plan);
}

CpuDecodeResult cpu_decode(const Workload& workload, const Workload& attended_kv,
                           const DecodePlan& plan) {
  check_decode_inputs(workload, plan);
  if (attended_kv.batch_size() != workload.batch_size() ||
      attended_kv.context_len != workload.context_len ||
      attended_kv.decode_steps != workload.decode_steps ||
      attended_kv.shape.num_kv_heads != workload.shape.num_kv_heads ||
      attended_kv.shape.head_dim != workload.shape.head_dim)
    throw std::invalid_argument("cpu decode: the attended K/V do not match the workload's shape");
  const ModelShape& shape = workload.shape;
  const int batch = workload.batch_size();
  const int steps = workload.decode_steps;
  // The same workload as the attended K/V: the cache holds the workload's values as they are, and
  // the session sees aliased spans (no copy of the image).
  const bool as_given = &attended_kv == &workload;

  DecodeSession session(shape, plan, batch, steps);
  std::vector<float> keys, values, stored_keys, stored_values;  // batch > 1 only
  {
    const std::span<const float> k = batch_span(workload, &Sequence::k, keys);
    const std::span<const float> v = batch_span(workload, &Sequence::v, values);
    if (as_given)
      session.prefill(k, v, k, v, workload.context_len);
    else
      session.prefill(k, v, batch_span(attended_kv, &Sequence::k, stored_keys),
                      batch_span(attended_kv, &Sequence::v, stored_values), workload.context_len);
  }

  CpuDecodeResult result;
  result.out.assign(batch, Tensor({steps, shape.num_q_heads, shape.head_dim}));
  result.selections.reserve(steps);
  std::vector<float> queries, out(static_cast<size_t>(batch) * shape.num_q_heads * shape.head_dim);
  const size_t out_row = static_cast<size_t>(shape.num_q_heads) * shape.head_dim;
  for (int step = 0; step < steps; ++step) {
    const std::span<const float> q = step_rows(workload, &Sequence::q_decode, step, queries);
    const std::span<const float> k = step_rows(workload, &Sequence::k_decode, step, keys);
    const std::span<const float> v = step_rows(workload, &Sequence::v_decode, step, values);
    const Csr& selection =
        as_given ? session.step(q, k, v, k, v, out)
                 : session.step(q, k, v, step_rows(attended_kv, &Sequence::k_decode, step, stored_keys),
                                step_rows(attended_kv, &Sequence::v_decode, step, stored_values), out);
    result.selections.push_back(selection);
    for (int b = 0; b < batch; ++b)
      std::copy_n(out.data() + b * out_row, out_row, result.out[b].row({step}));
  }
  result.seconds = session.seconds();
  return result;
}

}  // namespace unisparse
