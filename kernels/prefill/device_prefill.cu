#include "kernels/prefill/device_prefill.h"

#include <thrust/count.h>
#include <thrust/execution_policy.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "framework/core/dtype.h"
#include "framework/core/error.h"
#include "framework/core/parallel.h"
#include "kernels/common/cuda_check.h"
#include "kernels/prefill/prefill_launch.h"

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

struct IsNonFinite {
  __device__ bool operator()(float x) const { return !isfinite(x); }
};

}  // namespace

DevicePrefill::DevicePrefill(const Workload& workload, const PrefillPlan& plan)
    : dtype_(workload.dtype),
      batch_(workload.batch_size()),
      seq_len_(workload.context_len),
      num_q_heads_(workload.shape.num_q_heads),
      num_kv_heads_(workload.shape.num_kv_heads),
      head_dim_(workload.shape.head_dim) {
  const int num_q_blocks = static_cast<int>(ceil_div(seq_len_, plan.block_size));
  validate(workload, plan, num_q_blocks);
  if (empty()) return;

  q_.upload(to_device_bits(workload, &Sequence::q));
  k_.upload(to_device_bits(workload, &Sequence::k));
  v_.upload(to_device_bits(workload, &Sequence::v));
  const int64_t out_per_sequence = int64_t{num_q_heads_} * seq_len_ * head_dim_;
  out_.resize(static_cast<size_t>(out_per_sequence * batch_));

  std::vector<int8_t> modes(plan.head_mode.size());
  bool has_block_list = false;
  for (size_t h = 0; h < modes.size(); ++h) {
    modes[h] = static_cast<int8_t>(plan.head_mode[h]);
    has_block_list |= plan.head_mode[h] == PrefillHeadMode::block_list;
  }
  head_mode_.upload(modes);
  if (has_block_list) {
    block_indptr_.upload(plan.blocks.indptr);
    block_indices_.upload(plan.blocks.indices);
  }

  PrefillParams& params = params_;
  params.q = q_.data();
  params.k = k_.data();
  params.v = v_.data();
  params.out = out_.data();
  params.q_row_stride = params.kv_row_stride = params.out_row_stride = head_dim_;
  params.q_head_stride = params.kv_head_stride = params.out_head_stride = int64_t{seq_len_} * head_dim_;
  params.q_batch_stride = params.out_batch_stride = out_per_sequence;
  params.kv_batch_stride = int64_t{num_kv_heads_} * seq_len_ * head_dim_;
  params.seq_len = seq_len_;
  params.num_q_heads = num_q_heads_;
  params.group_size = workload.shape.group_size();
  params.block_size = plan.block_size;
  params.num_q_blocks = num_q_blocks;
  params.head_mode = reinterpret_cast<const PrefillTileMode*>(head_mode_.data());
  params.sink_tokens = plan.sink_tokens;
  params.local_tokens = plan.local_tokens;
  params.maybe_block_indptr = has_block_list ? block_indptr_.data() : nullptr;
  params.maybe_block_indices = has_block_list ? block_indices_.data() : nullptr;
  params.softmax_scale_log2 = static_cast<float>(M_LOG2E / std::sqrt(static_cast<double>(head_dim_)));
}

const uint16_t* DevicePrefill::rows(const DeviceBuffer<uint16_t>& tensor, int b, int kv_head) const {
  return tensor.data() + (int64_t{b} * num_kv_heads_ + kv_head) * seq_len_ * head_dim_;
}
const void* DevicePrefill::key_rows(int b, int kv_head) const { return rows(k_, b, kv_head); }
const void* DevicePrefill::value_rows(int b, int kv_head) const { return rows(v_, b, kv_head); }

void DevicePrefill::poison_output(cudaStream_t stream) {
  UNISPARSE_CUDA_CHECK(cudaMemsetAsync(out_.data(), 0xff, out_.size() * sizeof(float), stream));
}

void DevicePrefill::launch(cudaStream_t stream) {
  launch_block_sparse_prefill(params_, dtype_, head_dim_, batch_, stream);
}

std::vector<Tensor> DevicePrefill::download_output() const {
  const int64_t out_per_sequence = int64_t{num_q_heads_} * seq_len_ * head_dim_;
  std::vector<Tensor> out;
  out.reserve(batch_);
  for (int b = 0; b < batch_; ++b) {
    Tensor result({num_q_heads_, seq_len_, head_dim_});
    UNISPARSE_CUDA_CHECK(cudaMemcpy(result.data(), out_.data() + b * out_per_sequence,
                                    static_cast<size_t>(out_per_sequence) * sizeof(float),
                                    cudaMemcpyDeviceToHost));
    out.push_back(std::move(result));
  }
  return out;
}

int64_t DevicePrefill::count_nonfinite_output(cudaStream_t stream) const {
  if (out_.size() == 0) return 0;
  return thrust::count_if(thrust::cuda::par.on(stream), out_.data(), out_.data() + out_.size(),
                          IsNonFinite{});
}

}  // namespace unisparse::cuda
