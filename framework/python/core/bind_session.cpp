// DecodeSession: one layer's incremental decode under a plan, for a model whose decode queries do
// not exist in advance.
#include <nanobind/stl/string.h>

#include <memory>

#include "arrays.h"
#include "bindings.h"
#include "framework/sparse/decode_session.h"
#include "plan_args.h"

namespace unisparse::python {

namespace {

// The session and the selection of its last step, as Python sees them.
struct Session {
  std::unique_ptr<DecodeSession> core;
  Csr last_selection;
};

void init_session(Session* self, int num_q_heads, int num_kv_heads, int head_dim,
                  UNISPARSE_PLAN_PARAMS, int batch, int reserve_steps) {
  const DecodePlan plan = make_plan(UNISPARSE_PLAN_VALUES, num_kv_heads);
  new (self) Session{std::make_unique<DecodeSession>(
                         ModelShape{num_q_heads, num_kv_heads, head_dim}, plan, batch, reserve_steps),
                     {}};
}

void prefill(Session& self, const FloatIn& keys, const FloatIn& values) {
  const ModelShape& shape = self.core->shape();
  const int64_t batch = self.core->batch();
  // [num_kv_heads, T, d] for one sequence, [batch, num_kv_heads, T, d] for several.
  const bool batched = keys.ndim() == 4;
  if (batched)
    require_shape(keys, "keys", {batch, shape.num_kv_heads, -1, shape.head_dim});
  else if (batch == 1)
    require_shape(keys, "keys", {shape.num_kv_heads, -1, shape.head_dim});
  else
    require_shape(keys, "keys", {batch, shape.num_kv_heads, -1, shape.head_dim});
  const auto tokens = static_cast<int64_t>(keys.shape(batched ? 2 : 1));
  if (batched)
    require_shape(values, "values", {batch, shape.num_kv_heads, tokens, shape.head_dim});
  else
    require_shape(values, "values", {shape.num_kv_heads, tokens, shape.head_dim});
  nb::gil_scoped_release unlocked;
  self.core->prefill(span_of(keys), span_of(values), static_cast<int>(tokens));
}

NumpyOut<float> step(Session& self, const FloatIn& queries, const FloatIn& keys,
                     const FloatIn& values) {
  const ModelShape& shape = self.core->shape();
  const int64_t batch = self.core->batch();
  const bool batched = queries.ndim() == 3;
  if (batched || batch > 1) {
    require_shape(queries, "queries", {batch, shape.num_q_heads, shape.head_dim});
    require_shape(keys, "keys", {batch, shape.num_kv_heads, shape.head_dim});
    require_shape(values, "values", {batch, shape.num_kv_heads, shape.head_dim});
  } else {
    require_shape(queries, "queries", {shape.num_q_heads, shape.head_dim});
    require_shape(keys, "keys", {shape.num_kv_heads, shape.head_dim});
    require_shape(values, "values", {shape.num_kv_heads, shape.head_dim});
  }
  std::vector<float> out(static_cast<size_t>(batch) * shape.num_q_heads * shape.head_dim);
  {
    nb::gil_scoped_release unlocked;
    self.last_selection = self.core->step(span_of(queries), span_of(keys), span_of(values), out);
  }
  if (batched)
    return to_numpy(std::move(out), {static_cast<size_t>(batch),
                                     static_cast<size_t>(shape.num_q_heads),
                                     static_cast<size_t>(shape.head_dim)});
  return to_numpy(std::move(out),
                  {static_cast<size_t>(shape.num_q_heads), static_cast<size_t>(shape.head_dim)});
}

nb::dict phase_seconds(const Session& self) {
  const DecodePhaseSeconds& seconds = self.core->seconds();
  nb::dict out;
  out["stats"] = seconds.stats;
  out["selector"] = seconds.selector;
  out["attention"] = seconds.attention;
  return out;
}

}  // namespace

void bind_session(nb::module_& m) {
  nb::class_<Session>(m, "DecodeSession",
                      "One layer's decode, one step at a time: its KV cache in the plan's KV "
                      "format, key statistics and page-selector state (the CPU backend's decode "
                      "replays workloads through the same class).")
      .def("__init__", &init_session, nb::arg("num_q_heads"), nb::arg("num_kv_heads"),
           nb::arg("head_dim"), nb::kw_only(), UNISPARSE_PLAN_ARGS, nb::arg("batch") = 1,
           nb::arg("reserve_steps") = 16,
           "mode: dense | static | dynamic | static+dynamic; head_kinds: 'd' / 's' per KV head "
           "(streaming heads in static modes); the rest as the sweep parameters of those names.")
      .def("prefill", &prefill, nb::arg("keys"), nb::arg("values"),
           "The prompt's keys and values [num_kv_heads, T, d] (or [batch, num_kv_heads, T, d]), "
           "copied into the session's cache in its KV format; statistics from the keys as given.")
      .def("step", &step, nb::arg("queries"), nb::arg("keys"), nb::arg("values"),
           "Decode step s: appends token T + s (keys, values [num_kv_heads, d]) and attends every "
           "query [num_q_heads, d] to tokens 0 .. T + s under the plan; returns [num_q_heads, d] "
           "(with a leading batch axis when given one). last_selection() has the pages attended.")
      .def("last_selection", [](const Session& self) { return csr_to_numpy(self.last_selection); },
           "The last step's pages: (indptr [rows + 1], indices), row b * num_q_heads + h, "
           "ascending physical page ids (streaming heads: the pages their window touches).")
      .def_prop_ro("steps", [](const Session& self) { return self.core->steps(); })
      .def_prop_ro("num_tokens", [](const Session& self) { return self.core->num_tokens(); })
      .def_prop_ro("prompt_tokens", [](const Session& self) { return self.core->prompt_tokens(); })
      .def_prop_ro("seconds", &phase_seconds,
                   "Seconds per phase (stats, selector, attention) summed over the steps run.");
}

}  // namespace unisparse::python
