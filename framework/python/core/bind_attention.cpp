// The CPU backend's decode over a whole precomputed decode and its prefill over a prefill plan.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include "arrays.h"
#include "bindings.h"
#include "framework/sparse/cpu_decode.h"
#include "framework/sparse/cpu_prefill.h"
#include "plan_args.h"
#include "workload_arrays.h"

namespace unisparse::python {

namespace {

nb::tuple decode(const FloatIn& keys, const FloatIn& values, const FloatIn& q_decode,
                 const FloatIn& k_decode, const FloatIn& v_decode, UNISPARSE_PLAN_PARAMS) {
  require_shape(q_decode, "q_decode", {-1, -1, -1});
  const Workload workload = workload_from_arrays(static_cast<int>(q_decode.shape(1)), keys, values,
                                                 std::nullopt, q_decode, k_decode, v_decode);
  const DecodePlan plan = make_plan(UNISPARSE_PLAN_VALUES, workload.shape.num_kv_heads);
  CpuDecodeResult result;
  {
    nb::gil_scoped_release unlocked;
    result = cpu_decode(workload, plan);
  }
  nb::list selections;
  for (const Csr& step : result.selections) selections.append(csr_to_numpy(step));
  const ModelShape& shape = workload.shape;
  NumpyOut<float> out = to_numpy(std::move(result.out[0].storage()),
                                 {static_cast<size_t>(workload.decode_steps),
                                  static_cast<size_t>(shape.num_q_heads),
                                  static_cast<size_t>(shape.head_dim)});
  return nb::make_tuple(out, selections);
}

NumpyOut<float> prefill(const FloatIn& queries, const FloatIn& keys, const FloatIn& values,
                        const std::string& head_kinds, int sink_tokens, int local_tokens,
                        int block_size) {
  require_shape(queries, "queries", {-1, -1, -1});
  const Workload workload = workload_from_arrays(static_cast<int>(queries.shape(0)), keys, values,
                                                 queries, std::nullopt, std::nullopt, std::nullopt);
  if (block_size <= 0) throw std::invalid_argument("block_size must be positive");
  const HeadLayout heads =
      head_layout(head_kinds, workload.shape.num_kv_heads, sink_tokens, local_tokens);
  const PrefillPlan plan = make_prefill_plan(workload.shape, heads, block_size, true);
  std::vector<Tensor> out;
  {
    nb::gil_scoped_release unlocked;
    out = cpu_prefill(workload, plan);
  }
  const Tensor& result = out[0];
  const std::vector<size_t> shape{static_cast<size_t>(result.dim(0)),
                                  static_cast<size_t>(result.dim(1)),
                                  static_cast<size_t>(result.dim(2))};
  return to_numpy(std::move(out[0].storage()), {shape[0], shape[1], shape[2]});
}

}  // namespace

void bind_attention(nb::module_& m) {
  m.def("cpu_decode", &decode, nb::arg("keys"), nb::arg("values"), nb::arg("q_decode"),
        nb::arg("k_decode"), nb::arg("v_decode"), nb::kw_only(), UNISPARSE_PLAN_ARGS,
        "The CPU backend's decode of one sequence under a plan: keys, values [num_kv_heads, T, d] "
        "of the prompt, q_decode [steps, num_q_heads, d], k_decode / v_decode [steps, "
        "num_kv_heads, d]. Returns (out [steps, num_q_heads, d], per step (indptr, indices)). The "
        "arrays are copied into a Workload once.");
  m.def("cpu_prefill", &prefill, nb::arg("queries"), nb::arg("keys"), nb::arg("values"),
        nb::kw_only(), nb::arg("head_kinds") = "", nb::arg("sink_tokens") = 128,
        nb::arg("local_tokens") = 4096, nb::arg("block_size") = 64,
        "The CPU backend's prefill under the prefill plan of a head layout: streaming KV heads "
        "('s' in head_kinds) see [0, sink) and the last local tokens of each query, the others "
        "every earlier token (dense causal). queries [num_q_heads, T, d], keys and values "
        "[num_kv_heads, T, d] (copied into a Workload once); returns [num_q_heads, T, d].");
}

}  // namespace unisparse::python
