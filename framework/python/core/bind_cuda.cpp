// The cuda backend's decode, where the build has CUDA and a GPU is present; elsewhere cuda_status()
// says why not and cuda_decode raises RuntimeError with that reason.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <memory>
#include <stdexcept>

#include "arrays.h"
#include "bindings.h"
#include "framework/backend/backend.h"
#include "plan_args.h"
#include "workload_arrays.h"

namespace unisparse::python {

namespace {

// The backend, or why there is none (not built, no device).
struct CudaBackend {
  std::unique_ptr<Backend> backend;
  std::string device_or_reason;
};

CudaBackend open_cuda() {
  try {
    std::unique_ptr<Backend> backend = make_backend("cuda");
    std::string device = backend->device_name();
    return {std::move(backend), std::move(device)};
  } catch (const std::exception& error) {
    return {nullptr, error.what()};
  }
}

nb::tuple cuda_status() {
  const CudaBackend cuda = open_cuda();
  return nb::make_tuple(cuda.backend != nullptr, cuda.device_or_reason);
}

nb::tuple cuda_decode(const FloatIn& keys, const FloatIn& values, const FloatIn& q_decode,
                      const FloatIn& k_decode, const FloatIn& v_decode, UNISPARSE_PLAN_PARAMS) {
  CudaBackend cuda = open_cuda();
  if (!cuda.backend)
    throw std::runtime_error("the cuda backend is unavailable: " + cuda.device_or_reason);
  require_shape(q_decode, "q_decode", {-1, -1, -1});
  const Workload workload = workload_from_arrays(static_cast<int>(q_decode.shape(1)), keys, values,
                                                 std::nullopt, q_decode, k_decode, v_decode);
  const DecodePlan plan = make_plan(UNISPARSE_PLAN_VALUES, workload.shape.num_kv_heads);
  RunOptions options;
  options.measure = false;
  DecodeRun run;
  {
    nb::gil_scoped_release unlocked;
    run = cuda.backend->decode(workload, plan, options);
  }
  nb::list selections;
  for (const Csr& step : run.selections) selections.append(csr_to_numpy(step));
  const ModelShape& shape = workload.shape;
  NumpyOut<float> out = to_numpy(std::move(run.out[0].storage()),
                                 {static_cast<size_t>(workload.decode_steps),
                                  static_cast<size_t>(shape.num_q_heads),
                                  static_cast<size_t>(shape.head_dim)});
  return nb::make_tuple(out, selections);
}

}  // namespace

void bind_cuda(nb::module_& m) {
  m.def("cuda_status", &cuda_status,
        "(available, device or reason): whether this build has the cuda backend and a GPU for it.");
  m.def("cuda_decode", &cuda_decode, nb::arg("keys"), nb::arg("values"), nb::arg("q_decode"),
        nb::arg("k_decode"), nb::arg("v_decode"), nb::kw_only(), UNISPARSE_PLAN_ARGS,
        "cpu_decode's twin on the GPU (the cuda backend, untimed): (out [steps, num_q_heads, d], "
        "per step (indptr, indices)). Raises RuntimeError saying why where it is unavailable.");
}

}  // namespace unisparse::python
