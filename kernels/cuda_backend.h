#pragma once
// The cuda backend: decode through DecodeRunner (paged KV cache, key statistics, selector, top-k,
// split-KV attention), prefill through the prefill kernels when they are built.
#include <cuda_runtime.h>

#include <string>

#include "framework/backend/backend.h"

namespace unisparse::cuda {

class CudaBackend final : public Backend {
 public:
  CudaBackend();
  ~CudaBackend() override;
  std::string name() const override { return "cuda"; }
  DecodeRun decode(const Workload& workload, const DecodePlan& plan, const RunOptions& options) override;
  PrefillRun prefill(const Workload& workload, const PrefillPlan& plan, const RunOptions& options) override;
  // "<GPU name>, <N> SMs, sm <MHz> / mem <MHz>, L2 <MB>, driver <v>, runtime <v>".
  std::string device_name() const override;

 private:
  cudaStream_t stream_ = nullptr;
};

}  // namespace unisparse::cuda
