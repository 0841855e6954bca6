#pragma once
// A decode step as one CUDA graph: the step's launches (append, selector, top-k, both pools'
// attention and merge, the streaming pool on a branch of its own) are captured from the stream and
// replayed with one cudaGraphLaunch, so that no launch gap of the host lies between the kernels.
// One executable graph is kept per StepLaunches key; capturing a step whose key was captured before
// updates that graph's kernel parameters in place (cudaGraphExecUpdate) instead of instantiating a
// new one, and instantiates anew only when the update is refused.
#include <cuda_runtime.h>

#include <functional>
#include <map>

#include "kernels/decode/step_launches.h"

namespace unisparse::cuda {

class StepGraphs {
 public:
  StepGraphs() = default;
  ~StepGraphs();
  StepGraphs(const StepGraphs&) = delete;
  StepGraphs& operator=(const StepGraphs&) = delete;

  // Captures enqueue(stream) into the executable graph of `key` (the launches must be the ones key
  // names). Enqueues nothing: launch() runs it.
  void capture(const StepLaunches& key, const std::function<void(cudaStream_t)>& enqueue,
               cudaStream_t stream);
  // Launches the graph last captured under `key` on `stream` (std::out_of_range if none was).
  void launch(const StepLaunches& key, cudaStream_t stream) const;

  int instantiations() const { return instantiations_; }
  int updates() const { return updates_; }

 private:
  std::map<StepLaunches, cudaGraphExec_t> executables_;
  int instantiations_ = 0;
  int updates_ = 0;
};

}  // namespace unisparse::cuda
