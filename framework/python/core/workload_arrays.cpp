#include "workload_arrays.h"

#include <algorithm>
#include <stdexcept>

namespace unisparse::python {

namespace {

Tensor tensor_of(const FloatIn& array) {
  std::vector<int64_t> shape;
  for (size_t i = 0; i < array.ndim(); ++i) shape.push_back(static_cast<int64_t>(array.shape(i)));
  Tensor tensor(shape);
  std::copy_n(array.data(), array.size(), tensor.data());
  return tensor;
}

}  // namespace

Workload workload_from_arrays(int num_q_heads, const FloatIn& keys, const FloatIn& values,
                             const std::optional<FloatIn>& queries,
                             const std::optional<FloatIn>& q_decode,
                             const std::optional<FloatIn>& k_decode,
                             const std::optional<FloatIn>& v_decode) {
  require_shape(keys, "keys", {-1, -1, -1});
  const auto kv_heads = static_cast<int64_t>(keys.shape(0));
  const auto tokens = static_cast<int64_t>(keys.shape(1));
  const auto head_dim = static_cast<int64_t>(keys.shape(2));
  require_shape(values, "values", {kv_heads, tokens, head_dim});
  if (kv_heads <= 0 || num_q_heads <= 0 || num_q_heads % kv_heads != 0)
    throw std::invalid_argument("num_q_heads " + std::to_string(num_q_heads) +
                                " is not a positive multiple of the " + std::to_string(kv_heads) +
                                " KV heads of keys");
  Workload workload;
  workload.name = "python";
  workload.shape = {num_q_heads, static_cast<int>(kv_heads), static_cast<int>(head_dim)};
  workload.heads = HeadLayout::all_dense(static_cast<int>(kv_heads));
  workload.context_len = static_cast<int>(tokens);
  workload.dtype = DType::fp32;
  Sequence& seq = workload.batch.emplace_back();
  seq.k = tensor_of(keys);
  seq.v = tensor_of(values);
  if (queries) {
    require_shape(*queries, "queries", {num_q_heads, tokens, head_dim});
    seq.q = tensor_of(*queries);
  }
  if (q_decode || k_decode || v_decode) {
    if (!(q_decode && k_decode && v_decode))
      throw std::invalid_argument("q_decode, k_decode and v_decode go together");
    require_shape(*q_decode, "q_decode", {-1, num_q_heads, head_dim});
    const auto steps = static_cast<int64_t>(q_decode->shape(0));
    require_shape(*k_decode, "k_decode", {steps, kv_heads, head_dim});
    require_shape(*v_decode, "v_decode", {steps, kv_heads, head_dim});
    seq.q_decode = tensor_of(*q_decode);
    seq.k_decode = tensor_of(*k_decode);
    seq.v_decode = tensor_of(*v_decode);
    workload.decode_steps = static_cast<int>(steps);
  }
  return workload;
}

}  // namespace unisparse::python
