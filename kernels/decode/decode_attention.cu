#include <cub/block/block_reduce.cuh>

#include "kernels/common/cuda_check.h"
#include "kernels/common/dispatch.h"
#include "kernels/common/vector_load.cuh"
#include "kernels/decode/decode_attention.h"
#include "kernels/decode/decode_attention_mma.cuh"
#include "kernels/decode/decode_split.cuh"
#include "kernels/decode/decode_variants.cuh"

namespace unisparse::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kMaxPageSize = 128;
constexpr int kMaxMergeSplits = 256;  // DecodeRunner caps splits at this

// Decode over 16-bit (fp16 / bf16) pages. One block per (split, work item). A work item is kGroup
// query heads of one KV head of one sequence; every page is loaded once for all of them. Decode is
// memory bound (about 4 FLOP per byte of fp16 KV for a group of 4 against the ~14 FLOP/byte ridge of
// fp32 CUDA cores on an H200), so the products run on CUDA cores in fp32. Quantized pages pack 2-4x
// the elements into a byte and would cross that ridge: they take the tensor-core kernel
// (decode_attention_mma.cuh).
//
// Thread layout: kChannelLanes lanes cover one token row with 16-byte loads (8 channels each), and
// kTokenLanes rows are in flight per pass. Each token lane keeps its own online softmax (max, sum,
// accumulator) over the tokens it visits, so the main loop has no block barrier; the K and V rows of
// kPasses passes are loaded before any is used, to keep enough bytes in flight. The token lanes are
// merged once at the end.
template <class Storage, int kHeadDim, int kGroup, class Variant>
__global__ void __launch_bounds__(kThreads) decode_attention_kernel(
    const __grid_constant__ DecodeAttentionParams p) {
  constexpr int kChannelLanes = kHeadDim / 8;
  constexpr int kTokenLanes = kThreads / kChannelLanes;
  static_assert(Storage::kBits == 16, "quantized pages take decode_attention_mma_kernel");
  using Raw = typename Storage::Raw;
  constexpr int kRowBytes = row_bytes<Storage>(kHeadDim);
  constexpr int kPasses = 4;
  __shared__ float lane_max[kTokenLanes][kGroup], lane_sum[kTokenLanes][kGroup];
  __shared__ float lane_acc[kTokenLanes][kGroup][kHeadDim];

  const DecodeWorkItem item = decode_work_item<kGroup>(p);
  const int pool_row = item.pool_row, selection_row = item.selection_row;
  const int batch = item.batch, first_q_head = item.first_q_head;
  const int channel_lane = threadIdx.x % kChannelLanes;
  const int token_lane = threadIdx.x / kChannelLanes;

  float query[kGroup][8];
#pragma unroll
  for (int g = 0; g < kGroup; ++g)
#pragma unroll
    for (int j = 0; j < 8; ++j)
      query[g][j] = p.query[(int64_t(batch) * p.num_q_heads + first_q_head + g) * kHeadDim +
                            channel_lane * 8 + j] * p.scale_log2;
  float acc[kGroup][8] = {};
  float running_max[kGroup], running_sum[kGroup];
#pragma unroll
  for (int g = 0; g < kGroup; ++g) {
    running_max[g] = -INFINITY;
    running_sum[g] = 0;
  }

  const auto* keys = static_cast<const uint8_t*>(p.keys);
  const auto* values = static_cast<const uint8_t*>(p.values);
  const int32_t* page_table = p.page_indices + p.page_indptr[pool_row];
  const int chunks = Variant::count(p, selection_row);
  const int first_chunk = blockIdx.x * p.chunks_per_split;
  const int last_chunk = min(first_chunk + p.chunks_per_split, chunks);
  // The next chunk and its physical page are looked up while the current chunk's first loads are in
  // flight, so that the page-table read does not stall the start of every chunk.
  Chunk next_chunk{};
  int next_physical_page = 0;
  if (first_chunk < last_chunk) {
    next_chunk = Variant::chunk(p, selection_row, first_chunk);
    next_physical_page = page_table[next_chunk.page_in_row];
  }
  for (int c = first_chunk; c < last_chunk; ++c) {
    const Chunk chunk = next_chunk;
    const int64_t first_token = int64_t(next_physical_page) * p.page_size + chunk.begin;
    const uint8_t* key_rows = keys + first_token * kRowBytes + channel_lane * sizeof(Raw);
    const uint8_t* value_rows = values + first_token * kRowBytes + channel_lane * sizeof(Raw);
    const int length = chunk.end - chunk.begin;

    for (int base = 0; base < length; base += kTokenLanes * kPasses) {
      Raw key_raw[kPasses], value_raw[kPasses];
#pragma unroll
      for (int pass = 0; pass < kPasses; ++pass) {
        const int t = base + pass * kTokenLanes + token_lane;
        if (t < length) {
          key_raw[pass] = *reinterpret_cast<const Raw*>(key_rows + t * kRowBytes);
          value_raw[pass] = *reinterpret_cast<const Raw*>(value_rows + t * kRowBytes);
        }
      }
      if (base == 0 && c + 1 < last_chunk) {
        next_chunk = Variant::chunk(p, selection_row, c + 1);
        next_physical_page = page_table[next_chunk.page_in_row];
      }
      // Logits of the kPasses tokens (log2 units); every lane of a token row gets the full sum.
      float logit[kPasses][kGroup];
#pragma unroll
      for (int pass = 0; pass < kPasses; ++pass) {
        float key[8];
        unpack8_as_float<typename Storage::Element>(key_raw[pass], key);
#pragma unroll
        for (int g = 0; g < kGroup; ++g) {
          float dot = 0;
#pragma unroll
          for (int j = 0; j < 8; ++j) dot = fmaf(query[g][j], key[j], dot);
#pragma unroll
          for (int offset = kChannelLanes / 2; offset > 0; offset /= 2)
            dot += __shfl_xor_sync(0xffffffffu, dot, offset);
          const bool valid = base + pass * kTokenLanes + token_lane < length;
          logit[pass][g] = valid ? dot : -INFINITY;
        }
      }
#pragma unroll
      for (int g = 0; g < kGroup; ++g) {
        float tile_max = logit[0][g];
#pragma unroll
        for (int pass = 1; pass < kPasses; ++pass) tile_max = fmaxf(tile_max, logit[pass][g]);
        const float new_max = fmaxf(running_max[g], tile_max);
        if (new_max == -INFINITY) continue;  // this lane has seen no token yet
        const float factor = exp2f(running_max[g] - new_max);
        running_max[g] = new_max;
        running_sum[g] *= factor;
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[g][j] *= factor;
      }
#pragma unroll
      for (int pass = 0; pass < kPasses; ++pass) {
        if (base + pass * kTokenLanes + token_lane >= length) break;
        float value[8];
        unpack8_as_float<typename Storage::Element>(value_raw[pass], value);
#pragma unroll
        for (int g = 0; g < kGroup; ++g) {
          const float weight = exp2f(logit[pass][g] - running_max[g]);
          running_sum[g] += weight;
#pragma unroll
          for (int j = 0; j < 8; ++j) acc[g][j] = fmaf(weight, value[j], acc[g][j]);
        }
      }
    }
  }

  if (channel_lane == 0)
#pragma unroll
    for (int g = 0; g < kGroup; ++g) {
      lane_max[token_lane][g] = running_max[g];
      lane_sum[token_lane][g] = running_sum[g];
    }
#pragma unroll
  for (int g = 0; g < kGroup; ++g)
#pragma unroll
    for (int j = 0; j < 8; ++j) lane_acc[token_lane][g][channel_lane * 8 + j] = acc[g][j];
  __syncthreads();
  write_split_partial<kTokenLanes, kGroup, kHeadDim, kThreads>(p, item, lane_max, lane_sum, lane_acc);
}

// grid (batch * num_q_heads), block kMergeThreads: weights each split by its share of the softmax
// mass. The split weights are computed once, in parallel over splits; then each warp sums a strided
// subset of the splits with 16-byte loads (several independent loads per lane), skipping splits
// without mass, and the warps' sums are added in shared memory.
constexpr int kMergeThreads = 128;
constexpr int kMergeWarps = kMergeThreads / 32;
constexpr int kMaxMergeHeadDim = 128;

struct MaxOp {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

__global__ void __launch_bounds__(kMergeThreads) decode_merge_kernel(const __grid_constant__ DecodeMergeParams p) {
  using BlockReduce = cub::BlockReduce<float, kMergeThreads>;
  __shared__ typename BlockReduce::TempStorage reduce_storage;
  __shared__ float split_weight[kMaxMergeSplits];
  __shared__ float global_max, total_weight;
  __shared__ float4 warp_out[kMergeWarps][kMaxMergeHeadDim / 4];
  const int head_row = blockIdx.x;  // b * num_q_heads + h
  const int batch = head_row / p.num_q_heads, head = head_row % p.num_q_heads;
  const int splits = p.num_splits_of_q_head[head];
  const float* split_max = p.partial_max + int64_t(head_row) * p.max_splits;
  const float* split_sum = p.partial_sum + int64_t(head_row) * p.max_splits;

  float local_max = -INFINITY;
  for (int s = threadIdx.x; s < splits; s += kMergeThreads) local_max = fmaxf(local_max, split_max[s]);
  const float block_max = BlockReduce(reduce_storage).Reduce(local_max, MaxOp{});
  if (threadIdx.x == 0) global_max = block_max;
  __syncthreads();
  float local_total = 0;
  for (int s = threadIdx.x; s < splits; s += kMergeThreads) {
    const float weight = split_sum[s] > 0 ? split_sum[s] * exp2f(split_max[s] - global_max) : 0.0f;
    split_weight[s] = weight;
    local_total += weight;
  }
  const float block_total = BlockReduce(reduce_storage).Sum(local_total);
  if (threadIdx.x == 0) total_weight = block_total;
  __syncthreads();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int quads = p.head_dim / 4;  // float4 columns of a split's output row
  const auto* split_out = reinterpret_cast<const float4*>(p.partial_out + int64_t(head_row) * p.max_splits * p.head_dim);
  for (int quad = lane; quad < quads; quad += 32) {
    float4 sum = {0, 0, 0, 0};
#pragma unroll 4
    for (int s = warp; s < splits; s += kMergeWarps) {
      const float weight = split_weight[s];
      if (weight == 0) continue;  // a split without tokens or mass: its row holds zeros
      const float4 part = split_out[int64_t(s) * quads + quad];
      sum.x = fmaf(weight, part.x, sum.x);
      sum.y = fmaf(weight, part.y, sum.y);
      sum.z = fmaf(weight, part.z, sum.z);
      sum.w = fmaf(weight, part.w, sum.w);
    }
    warp_out[warp][quad] = sum;
  }
  __syncthreads();
  float* out = p.out + ((int64_t(batch) * p.steps + p.step) * p.num_q_heads + head) * p.head_dim;
  for (int channel = threadIdx.x; channel < p.head_dim; channel += kMergeThreads) {
    float sum = 0;
#pragma unroll
    for (int w = 0; w < kMergeWarps; ++w) sum += reinterpret_cast<const float*>(warp_out[w])[channel];
    out[channel] = sum / total_weight;
  }
}

}  // namespace

void launch_decode_attention(const DecodeAttentionParams& params, DecodeVariant variant,
                             DType storage, int head_dim, int heads_per_load, int pool_rows,
                             int num_splits, cudaStream_t stream) {
  if (pool_rows == 0) return;
  if (params.page_size > kMaxPageSize)
    throw Unsupported("cuda decode: page_size " + std::to_string(params.page_size) + " > 128");
  const dim3 grid(num_splits, pool_rows * (params.group_size / heads_per_load));
  UNISPARSE_DISPATCH_KV_STORAGE(storage, Storage, [&] {
    UNISPARSE_DISPATCH_HEAD_DIM(head_dim, kHeadDim, [&] {
      UNISPARSE_DISPATCH_GROUP(heads_per_load, kGroup, [&] {
        // 16-bit pages: fp32 CUDA cores; quantized pages: tensor cores (decode_attention_mma.cuh).
        const auto launch = [&]<class Variant>(Variant) {
          if constexpr (Storage::kBits == 16)
            decode_attention_kernel<Storage, kHeadDim, kGroup, Variant><<<grid, kThreads, 0, stream>>>(params);
          else
            decode_attention_mma_kernel<Storage, kHeadDim, kGroup, Variant>
                <<<grid, mma_decode::kThreads, 0, stream>>>(params);
        };
        switch (variant) {
          case DecodeVariant::all_pages: launch(AllPages{}); break;
          case DecodeVariant::selected_pages: launch(SelectedPages{}); break;
          case DecodeVariant::streaming_window: launch(StreamingWindow{}); break;
        }
        UNISPARSE_CUDA_CHECK_LAUNCH();
      });
    });
  });
}

void launch_decode_merge(const DecodeMergeParams& params, int batch, cudaStream_t stream) {
  if (params.max_splits > kMaxMergeSplits)
    throw Unsupported("cuda decode: " + std::to_string(params.max_splits) + " splits > " +
                      std::to_string(kMaxMergeSplits));
  if (params.head_dim % 4 != 0 || params.head_dim > kMaxMergeHeadDim)
    throw Unsupported("cuda decode merge: head_dim " + std::to_string(params.head_dim) +
                      " (a multiple of 4, at most 128)");
  decode_merge_kernel<<<batch * params.num_q_heads, kMergeThreads, 0, stream>>>(params);
  UNISPARSE_CUDA_CHECK_LAUNCH();
}

}  // namespace unisparse::cuda
