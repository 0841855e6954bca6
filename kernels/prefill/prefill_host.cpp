#include "kernels/prefill/prefill_host.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "framework/core/dtype.h"
#include "framework/core/error.h"
#include "framework/core/parallel.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/device_buffer.h"
#include "kernels/prefill/prefill_launch.h"
#include "kernels/profile/gpu_timer.h"
#include "kernels/profile/nvtx.h"

namespace unisparse::cuda {
namespace {

static_assert(int(PrefillTileMode::dense_causal) == int(PrefillHeadMode::dense_causal) &&
              int(PrefillTileMode::streaming) == int(PrefillHeadMode::streaming) &&
              int(PrefillTileMode::block_list) == int(PrefillHeadMode::block_list));

// The batch's tensor `member` ([heads, T, head_dim] per sequence) as 16-bit bits, [batch, heads, T, d].
std::vector<uint16_t> to_device_bits(const Workload& workload, Tensor Sequence::*member) {
  const int64_t per_sequence = (workload.batch.front().*member).size();
  std::vector<uint16_t> bits(static_cast<size_t>(per_sequence * workload.batch_size()));
  const bool bf16 = workload.dtype == DType::bf16;
  constexpr int64_t kChunk = 1 << 20;
  const int64_t chunks_per_sequence = ceil_div(per_sequence, kChunk);
  parallel_for(chunks_per_sequence * workload.batch_size(), [&](int64_t job) {
    const int64_t b = job / chunks_per_sequence, begin = (job % chunks_per_sequence) * kChunk;
    const int64_t end = std::min(begin + kChunk, per_sequence);
    const float* source = (workload.batch[b].*member).data();
    uint16_t* destination = bits.data() + b * per_sequence;
    for (int64_t i = begin; i < end; ++i)
      destination[i] = bf16 ? float_to_bf16_bits(source[i]) : float_to_half_bits(source[i]);
  });
  return bits;
}

void validate(const Workload& workload, const PrefillPlan& plan, int num_q_blocks) {
  const ModelShape& shape = workload.shape;
  if (workload.dtype != DType::fp16 && workload.dtype != DType::bf16)
    throw Unsupported("cuda prefill: dtype " + std::string(to_string(workload.dtype)) +
                      " (fp16 and bf16 are implemented)");
  if (static_cast<int>(plan.head_mode.size()) != shape.num_q_heads)
    throw std::invalid_argument("cuda prefill: plan has " + std::to_string(plan.head_mode.size()) +
                                " head modes for " + std::to_string(shape.num_q_heads) + " query heads");
  for (const Sequence& sequence : workload.batch) {
    if (sequence.q.shape() != std::vector<int64_t>{shape.num_q_heads, workload.context_len, shape.head_dim} ||
        sequence.k.shape() != std::vector<int64_t>{shape.num_kv_heads, workload.context_len, shape.head_dim} ||
        sequence.v.shape() != sequence.k.shape())
      throw std::invalid_argument("cuda prefill: a sequence's Q/K/V shapes do not match the workload");
  }
  for (PrefillHeadMode mode : plan.head_mode)
    if (mode == PrefillHeadMode::block_list) {
      if (plan.blocks.rows() != shape.num_q_heads * num_q_blocks)
        throw std::invalid_argument("cuda prefill: block list has " + std::to_string(plan.blocks.rows()) +
                                    " rows, expected num_q_heads * num_q_blocks = " +
                                    std::to_string(shape.num_q_heads * num_q_blocks));
      // KV blocks have the query block's size, so a valid id is below num_q_blocks.
      for (int32_t block : plan.blocks.indices)
        if (block < 0 || block >= num_q_blocks)
          throw std::invalid_argument("cuda prefill: block list names KV block " +
                                      std::to_string(block) + " of " + std::to_string(num_q_blocks));
      break;
    }
}

}  // namespace

PrefillRun cuda_prefill(const Workload& workload, const PrefillPlan& plan, const RunOptions& options) {
  const ModelShape& shape = workload.shape;
  const int seq_len = workload.context_len, head_dim = shape.head_dim, batch = workload.batch_size();
  const int num_q_blocks = static_cast<int>(ceil_div(seq_len, plan.block_size));
  validate(workload, plan, num_q_blocks);
  PrefillRun run;
  if (batch == 0 || seq_len == 0) return run;

  DeviceBuffer<uint16_t> q, k, v;
  q.upload(to_device_bits(workload, &Sequence::q));
  k.upload(to_device_bits(workload, &Sequence::k));
  v.upload(to_device_bits(workload, &Sequence::v));
  const int64_t out_per_sequence = int64_t{shape.num_q_heads} * seq_len * head_dim;
  DeviceBuffer<float> out(static_cast<size_t>(out_per_sequence * batch));

  std::vector<int8_t> modes(plan.head_mode.size());
  bool has_block_list = false;
  for (size_t h = 0; h < modes.size(); ++h) {
    modes[h] = static_cast<int8_t>(plan.head_mode[h]);
    has_block_list |= plan.head_mode[h] == PrefillHeadMode::block_list;
  }
  DeviceBuffer<int8_t> head_mode;
  head_mode.upload(modes);
  DeviceBuffer<int32_t> indptr, indices;
  if (has_block_list) {
    indptr.upload(plan.blocks.indptr);
    indices.upload(plan.blocks.indices);
  }

  PrefillParams params{};
  params.q = q.data();
  params.k = k.data();
  params.v = v.data();
  params.out = out.data();
  params.q_row_stride = params.kv_row_stride = params.out_row_stride = head_dim;
  params.q_head_stride = params.kv_head_stride = params.out_head_stride = int64_t{seq_len} * head_dim;
  params.q_batch_stride = params.out_batch_stride = out_per_sequence;
  params.kv_batch_stride = int64_t{shape.num_kv_heads} * seq_len * head_dim;
  params.seq_len = seq_len;
  params.num_q_heads = shape.num_q_heads;
  params.group_size = shape.group_size();
  params.block_size = plan.block_size;
  params.num_q_blocks = num_q_blocks;
  params.head_mode = reinterpret_cast<const PrefillTileMode*>(head_mode.data());
  params.sink_tokens = plan.sink_tokens;
  params.local_tokens = plan.local_tokens;
  params.maybe_block_indptr = has_block_list ? indptr.data() : nullptr;
  params.maybe_block_indices = has_block_list ? indices.data() : nullptr;
  params.softmax_scale_log2 = static_cast<float>(M_LOG2E / std::sqrt(static_cast<double>(head_dim)));

  cudaStream_t stream = nullptr;
  UNISPARSE_CUDA_CHECK(cudaStreamCreate(&stream));
  auto launch = [&](cudaStream_t on) {
    launch_block_sparse_prefill(params, workload.dtype, head_dim, batch, on);
  };
  try {
    // Poisoned with NaN (all bits set) so that an output the kernel fails to write cannot pass.
    UNISPARSE_CUDA_CHECK(cudaMemsetAsync(out.data(), 0xff, out.size() * sizeof(float), stream));
    launch(stream);
    UNISPARSE_CUDA_CHECK(cudaStreamSynchronize(stream));
    run.out.reserve(batch);
    for (int b = 0; b < batch; ++b) {
      Tensor result({shape.num_q_heads, seq_len, head_dim});
      UNISPARSE_CUDA_CHECK(cudaMemcpy(result.data(), out.data() + b * out_per_sequence,
                                      static_cast<size_t>(out_per_sequence) * sizeof(float),
                                      cudaMemcpyDeviceToHost));
      run.out.push_back(std::move(result));
    }
    if (options.measure) {
      // The same measurement as decode; in profiling mode one iteration, CUPTI off, NVTX on.
      const auto timed_launch = [&](cudaStream_t on) {
        const NvtxRange range(options.label, "attention");
        launch(on);
      };
      const GpuTiming timing = time_gpu(timed_launch, timing_for(options), stream,
                                        {{kPrefillKernelName, "attention"}});
      const auto attention = timing.phase_median_us.find("attention");
      run.times.attention_us =
          attention != timing.phase_median_us.end() ? attention->second : timing.median_us;
      run.times.total_us = timing.median_us;
      run.times.total_min_us = timing.min_us;
      run.times.total_max_us = timing.max_us;
      run.times.iterations = timing.iterations;
      run.times.timer = timing.timer;
    }
  } catch (...) {
    cudaStreamDestroy(stream);
    throw;
  }
  cudaStreamDestroy(stream);
  return run;
}

}  // namespace unisparse::cuda
