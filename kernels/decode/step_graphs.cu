#include "kernels/decode/step_graphs.h"

#include "kernels/common/cuda_check.h"

namespace unisparse::cuda {

StepGraphs::~StepGraphs() {
  for (auto& [key, executable] : executables_) cudaGraphExecDestroy(executable);
}

void StepGraphs::capture(const StepLaunches& key, const std::function<void(cudaStream_t)>& enqueue,
                         cudaStream_t stream) {
  cudaGraph_t graph = nullptr;
  UNISPARSE_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  try {
    enqueue(stream);
  } catch (...) {
    // End the capture so that the stream is usable again, then report what failed.
    cudaStreamEndCapture(stream, &graph);
    if (graph) cudaGraphDestroy(graph);
    throw;
  }
  UNISPARSE_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  const auto found = executables_.find(key);
  bool updated = false;
  if (found != executables_.end()) {
    cudaGraphExecUpdateResultInfo info{};
    updated = cudaGraphExecUpdate(found->second, graph, &info) == cudaSuccess;
    if (!updated) {
      cudaGetLastError();  // a refused update leaves an error behind; the graph is rebuilt below
      cudaGraphExecDestroy(found->second);
      executables_.erase(found);
    }
  }
  if (updated) {
    ++updates_;
  } else {
    cudaGraphExec_t executable = nullptr;
    const cudaError_t status = cudaGraphInstantiate(&executable, graph, 0);
    if (status != cudaSuccess) cudaGraphDestroy(graph);
    UNISPARSE_CUDA_CHECK(status);
    executables_[key] = executable;
    ++instantiations_;
  }
  UNISPARSE_CUDA_CHECK(cudaGraphDestroy(graph));
}

void StepGraphs::launch(const StepLaunches& key, cudaStream_t stream) const {
  UNISPARSE_CUDA_CHECK(cudaGraphLaunch(executables_.at(key), stream));
}

}  // namespace unisparse::cuda
