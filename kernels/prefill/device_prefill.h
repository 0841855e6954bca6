#pragma once
// One block-sparse prefill of a workload on the GPU: its Q/K/V uploaded in the workload dtype, the
// plan's head modes and block lists, the float output and the kernel's parameters. cuda_prefill
// returns the output; a decode run with cache_fill=prefill writes its paged KV cache from the K/V.
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/sparse/plan.h"
#include "framework/workload/workload.h"
#include "kernels/common/device_buffer.h"
#include "kernels/prefill/prefill_params.h"

namespace unisparse::cuda {

class DevicePrefill {
 public:
  // Checks the workload and the plan before touching the device (Unsupported for a dtype other
  // than fp16/bf16, std::invalid_argument for a plan or Q/K/V shapes that do not match), then
  // uploads every sequence's Q/K/V. An empty workload (no sequence or T = 0) uploads nothing.
  DevicePrefill(const Workload& workload, const PrefillPlan& plan);

  bool empty() const { return batch_ == 0 || seq_len_ == 0; }
  DType dtype() const { return dtype_; }
  // Rows [T, head_dim] of sequence b and KV head kv_head in dtype(), token t at t * head_dim elements.
  const void* key_rows(int b, int kv_head) const;
  const void* value_rows(int b, int kv_head) const;
  int64_t token_stride() const { return head_dim_; }

  // Fills the output with NaN (all bits set), so that a row the kernel does not write cannot pass.
  void poison_output(cudaStream_t stream);
  // Enqueues the kernel. Throws Unsupported for a head dim other than 64/128 or a block size other
  // than 64/128.
  void launch(cudaStream_t stream);
  // Per sequence [num_q_heads, T, head_dim] (synchronous).
  std::vector<Tensor> download_output() const;
  // Outputs that are NaN or infinite (synchronises `stream`).
  int64_t count_nonfinite_output(cudaStream_t stream) const;

 private:
  const uint16_t* rows(const DeviceBuffer<uint16_t>& tensor, int b, int kv_head) const;

  DType dtype_;
  int batch_, seq_len_, num_q_heads_, num_kv_heads_, head_dim_;
  DeviceBuffer<uint16_t> q_, k_, v_;  // [batch, heads, T, head_dim] fp16 / bf16 bits
  DeviceBuffer<float> out_;           // [batch, num_q_heads, T, head_dim]
  DeviceBuffer<int8_t> head_mode_;    // [num_q_heads] PrefillTileMode
  DeviceBuffer<int32_t> block_indptr_, block_indices_;  // block-list heads only
  PrefillParams params_{};
};

}  // namespace unisparse::cuda
