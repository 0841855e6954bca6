#include <cub/block/block_reduce.cuh>

#include <string>

#include "kernels/common/async_copy.cuh"
#include "kernels/common/cuda_check.h"
#include "kernels/common/dispatch.h"
#include "kernels/common/launch_limits.h"
#include "kernels/common/online_softmax.cuh"
#include "kernels/common/vector_load.cuh"
#include "kernels/decode/chunk_window.cuh"
#include "kernels/decode/decode_attention.h"
#include "kernels/decode/decode_attention_mma.cuh"
#include "kernels/decode/decode_split.cuh"
#include "kernels/decode/decode_variants.cuh"

namespace unisparse::cuda {
namespace {

constexpr int kThreads = limits::kDecodeThreads;
// Token rows a token lane takes per ring stage, and the stages of the ring: kStages - 1 stages
// (kRows * 128 threads * 32 bytes of K and V each, 16 KB a stage) are in flight while one is
// computed. Four blocks of 48 KB share an SM (128 registers a thread; groups of 8 need twice the
// query and accumulator registers and run two blocks), so about 128 KB are in flight per SM, several
// times what the HBM latency needs at the copy bandwidth.
constexpr int kRows = 4;
constexpr int kStages = 3;
constexpr uint32_t kRowMask = (1u << kRows) - 1;
static_assert(kStages * kRows <= 32, "the valid bits of every stage fit one register");

// Decode over 16-bit (fp16 / bf16) pages. One block per (split, work item). A work item is kGroup
// query heads of one KV head of one sequence; every page is loaded once for all of them. Decode is
// memory bound (about 4 FLOP per byte of fp16 KV for a group of 4 against the ~14 FLOP/byte ridge of
// fp32 CUDA cores on an H200), so the products run on CUDA cores in fp32. Quantized pages pack 2-4x
// the elements into a byte and would cross that ridge: they take the tensor-core kernel
// (decode_attention_mma.cuh).
//
// Thread layout: kChannelLanes lanes cover one token row with 16-byte copies (8 channels each),
// kTokenLanes rows side by side, kRows of them per stage. Every thread copies its own 16-byte slices
// of K and V with cp.async into its own slots of a ring of kStages stages and reads back only those,
// so the ring needs no barrier: a thread issues the copies of stage s + kStages - 1, waits for
// stage s and computes it. Each token lane keeps its own online softmax (max, sum, accumulator) over
// the tokens it visits; the token lanes are merged once at the end.
template <class Storage, int kHeadDim, int kGroup, class Variant>
__global__ void __launch_bounds__(kThreads, kGroup >= 8 ? 2 : 4) decode_attention_kernel(
    const __grid_constant__ DecodeAttentionParams p) {
  constexpr int kChannelLanes = kHeadDim / 8;
  constexpr int kTokenLanes = kThreads / kChannelLanes;
  constexpr int kStageTokens = kTokenLanes * kRows;
  static_assert(Storage::kBits == 16, "quantized pages take decode_attention_mma_kernel");
  using Element = typename Storage::Element;
  constexpr int kRowBytes = row_bytes<Storage>(kHeadDim);
  // The ring, then (after the main loop) the token lanes' states for the block's merge, in the same
  // bytes.
  struct Ring {
    uint4 slot[kStages][2][kRows][kThreads];  // [stage][K, V][row][thread]
  };
  struct Lanes {
    SoftmaxState state[kTokenLanes][kGroup];
    float acc[kTokenLanes][kGroup][kHeadDim];
  };
  constexpr int kSharedBytes = sizeof(Ring) > sizeof(Lanes) ? sizeof(Ring) : sizeof(Lanes);
  __shared__ __align__(16) unsigned char shared[kSharedBytes];
  Ring& ring = *reinterpret_cast<Ring*>(shared);

  const DecodeWorkItem item = decode_work_item<kGroup>(p);
  const int channel_lane = threadIdx.x % kChannelLanes;
  const int token_lane = threadIdx.x / kChannelLanes;

  float query[kGroup][8];
#pragma unroll
  for (int g = 0; g < kGroup; ++g) {
    const float4* row = reinterpret_cast<const float4*>(
        p.query + (int64_t(item.batch) * p.num_q_heads + item.first_q_head + g) * kHeadDim + channel_lane * 8);
    const float4 low = row[0], high = row[1];
    const float q[8] = {low.x, low.y, low.z, low.w, high.x, high.y, high.z, high.w};
#pragma unroll
    for (int j = 0; j < 8; ++j) query[g][j] = q[j] * p.scale_log2;
  }
  float acc[kGroup][8] = {};
  SoftmaxState state[kGroup];

  const auto* keys = static_cast<const uint8_t*>(p.keys) + channel_lane * sizeof(uint4);
  const auto* values = static_cast<const uint8_t*>(p.values) + channel_lane * sizeof(uint4);
  const SplitRange range = split_range(p, Variant::count(p, item.selection_row));
  ChunkWindow<Variant> window(p, p.page_indices + p.page_indptr[item.pool_row], item.selection_row,
                              range.first, range.last);

  // Producer: a stage holds kStageTokens consecutive tokens of one chunk (a chunk longer than that
  // spans several stages). valid_bits keeps kRows bits per ring slot: which of this thread's rows
  // hold a token.
  int chunk = range.first, offset = 0;
  PoolSpan span = range.first < range.last ? window.span(range.first) : PoolSpan{0, 0};
  uint32_t valid_bits = 0;
  const auto produce = [&](int slot) -> bool {
    if (offset >= span.length) {
      if (++chunk >= range.last) return false;
      span = window.span(chunk);
      offset = 0;
    }
    uint32_t bits = 0;
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      const int t = offset + r * kTokenLanes + token_lane;
      const bool valid = t < span.length;
      const int64_t byte = (int64_t(span.first_token) + (valid ? t : 0)) * kRowBytes;
      copy_async<16>(&ring.slot[slot][0][r][threadIdx.x], keys + byte, valid);
      copy_async<16>(&ring.slot[slot][1][r][threadIdx.x], values + byte, valid);
      bits |= uint32_t(valid) << r;
    }
    valid_bits = (valid_bits & ~(kRowMask << (slot * kRows))) | bits << (slot * kRows);
    offset += kStageTokens;
    return true;
  };

  // Consumer: logits of the stage's rows (log2 units; every lane of a token row gets the full sum),
  // the online softmax, then the weighted values.
  const auto consume = [&](int slot) {
    const uint32_t rows_valid = (valid_bits >> (slot * kRows)) & kRowMask;
    float logit[kRows][kGroup];
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      float key[8];
      unpack8_as_float<Element>(ring.slot[slot][0][r][threadIdx.x], key);
#pragma unroll
      for (int g = 0; g < kGroup; ++g) {
        float dot = 0;
#pragma unroll
        for (int j = 0; j < 8; ++j) dot = fmaf(query[g][j], key[j], dot);
#pragma unroll
        for (int lanes = kChannelLanes / 2; lanes > 0; lanes /= 2)
          dot += __shfl_xor_sync(0xffffffffu, dot, lanes);
        logit[r][g] = (rows_valid >> r) & 1 ? dot : -INFINITY;
      }
    }
#pragma unroll
    for (int g = 0; g < kGroup; ++g) {
      float tile_max = logit[0][g];
#pragma unroll
      for (int r = 1; r < kRows; ++r) tile_max = fmaxf(tile_max, logit[r][g]);
      const float factor = state[g].raise_max(tile_max);
      if (factor != 1.0f)  // past the first tokens the max rarely moves
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[g][j] *= factor;
    }
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      if (!((rows_valid >> r) & 1)) break;  // rows fill in order
      float value[8];
      unpack8_as_float<Element>(ring.slot[slot][1][r][threadIdx.x], value);
#pragma unroll
      for (int g = 0; g < kGroup; ++g) {
        const float weight = state[g].weight(logit[r][g]);
        state[g].sum += weight;
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[g][j] = fmaf(weight, value[j], acc[g][j]);
      }
    }
  };

  // One commit per stage, empty or not, so that "all but the newest kStages - 1 groups done" always
  // means "the stage about to be consumed has landed".
  int produced = 0;
#pragma unroll
  for (int slot = 0; slot < kStages - 1; ++slot) {
    if (produce(slot)) ++produced;
    ptx::cp_async_commit();
  }
  for (int consumed = 0; consumed < produced; ++consumed) {
    if (produce((consumed + kStages - 1) % kStages)) ++produced;
    ptx::cp_async_commit();
    ptx::cp_async_wait<kStages - 1>();
    consume(consumed % kStages);
  }
  ptx::cp_async_wait<0>();
  __syncthreads();  // the ring's bytes become the lanes' states

  Lanes& lanes = *reinterpret_cast<Lanes*>(shared);
  if (channel_lane == 0)
#pragma unroll
    for (int g = 0; g < kGroup; ++g) lanes.state[token_lane][g] = state[g];
#pragma unroll
  for (int g = 0; g < kGroup; ++g) {
    float4* out = reinterpret_cast<float4*>(&lanes.acc[token_lane][g][channel_lane * 8]);
    out[0] = make_float4(acc[g][0], acc[g][1], acc[g][2], acc[g][3]);
    out[1] = make_float4(acc[g][4], acc[g][5], acc[g][6], acc[g][7]);
  }
  __syncthreads();
  write_split_partial<kTokenLanes, kGroup, kHeadDim, kThreads>(p, item, lanes.state, lanes.acc);
}

// grid (pool rows * group_size, head_dim / kMergeChannels), block kMergeThreads: combines the
// splits of one query head by their softmax mass for kMergeChannels channels. The split weights
// come first, in parallel over splits; then kSplitLanes lanes per float4 column each sum a strided
// share of the splits (every load independent), skipping splits without mass, and the lanes' sums
// are added in shared memory.
constexpr int kMergeThreads = limits::kMergeThreads;
constexpr int kMergeQuads = limits::kMergeChannels / 4;
constexpr int kMergeSplitLanes = kMergeThreads / kMergeQuads;
static_assert(kMergeThreads % kMergeQuads == 0);

struct MaxOp {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

__global__ void __launch_bounds__(kMergeThreads) decode_merge_kernel(const __grid_constant__ DecodeMergeParams p) {
  using BlockReduce = cub::BlockReduce<float, kMergeThreads>;
  __shared__ typename BlockReduce::TempStorage reduce_storage;
  __shared__ float split_weight[limits::kMaxSplits];
  __shared__ float common_max, total_weight;
  __shared__ float4 lane_sum[kMergeSplitLanes][kMergeQuads];
  const int pool_row = blockIdx.x / p.group_size;
  const int batch = pool_row / p.pool_heads;
  const int head = p.kv_head_of_pool_head[pool_row % p.pool_heads] * p.group_size + blockIdx.x % p.group_size;
  const int64_t head_row = int64_t(batch) * p.num_q_heads + head;
  const int splits = p.num_splits;
  const float* split_max = p.partial_max + head_row * p.max_splits;
  const float* split_sum = p.partial_sum + head_row * p.max_splits;

  float local_max = -INFINITY;
  for (int s = threadIdx.x; s < splits; s += kMergeThreads) local_max = fmaxf(local_max, split_max[s]);
  const float block_max = BlockReduce(reduce_storage).Reduce(local_max, MaxOp{});
  if (threadIdx.x == 0) common_max = block_max;
  __syncthreads();
  float local_total = 0;
  for (int s = threadIdx.x; s < splits; s += kMergeThreads) {
    const SoftmaxState split{split_max[s], split_sum[s]};  // a split without tokens: -inf, 0
    const float weight = split.sum * split.factor_to(common_max);
    split_weight[s] = weight;
    local_total += weight;
  }
  const float block_total = BlockReduce(reduce_storage).Sum(local_total);
  if (threadIdx.x == 0) total_weight = block_total;
  __syncthreads();

  const int quad = threadIdx.x % kMergeQuads, split_lane = threadIdx.x / kMergeQuads;
  const int quads = p.head_dim / 4;  // float4 columns of a split's output row
  const int column = blockIdx.y * kMergeQuads + quad;
  const auto* split_out = reinterpret_cast<const float4*>(p.partial_out + head_row * p.max_splits * p.head_dim);
  float4 sum = {0, 0, 0, 0};
#pragma unroll 4
  for (int s = split_lane; s < splits; s += kMergeSplitLanes) {
    const float weight = split_weight[s];
    if (weight == 0) continue;  // a split without tokens or mass: its row holds zeros
    const float4 part = split_out[int64_t(s) * quads + column];
    sum.x = fmaf(weight, part.x, sum.x);
    sum.y = fmaf(weight, part.y, sum.y);
    sum.z = fmaf(weight, part.z, sum.z);
    sum.w = fmaf(weight, part.w, sum.w);
  }
  lane_sum[split_lane][quad] = sum;
  __syncthreads();
  if (threadIdx.x >= limits::kMergeChannels) return;
  const int channel = threadIdx.x;
  float total = 0;
#pragma unroll
  for (int lane = 0; lane < kMergeSplitLanes; ++lane)
    total += reinterpret_cast<const float*>(&lane_sum[lane][channel / 4])[channel % 4];
  p.out[((int64_t(batch) * p.steps + p.step) * p.num_q_heads + head) * p.head_dim +
        blockIdx.y * limits::kMergeChannels + channel] = total / total_weight;
}

// Calls f with the kernel function of `key`, a pointer of the one type every instantiation has.
template <class F>
void with_decode_kernel(const DecodeKernelKey& key, F&& f) {
  UNISPARSE_DISPATCH_KV_STORAGE("cuda decode attention", key.storage, Storage, [&] {
    UNISPARSE_DISPATCH_HEAD_DIM("cuda decode attention", key.head_dim, kHeadDim, [&] {
      UNISPARSE_DISPATCH_GROUP("cuda decode attention", key.heads_per_load, kGroup, [&] {
        // 16-bit pages: fp32 CUDA cores; quantized pages: tensor cores (decode_attention_mma.cuh).
        const auto pick = [&]<class Variant>(Variant) {
          if constexpr (Storage::kBits == 16)
            f(decode_attention_kernel<Storage, kHeadDim, kGroup, Variant>, 0);
          else
            f(decode_attention_mma_kernel<Storage, kHeadDim, kGroup, Variant>,
              mma_decode::shared_bytes<Storage, kHeadDim>());
        };
        switch (key.variant) {
          case DecodeVariant::all_pages: return pick(AllPages{});
          case DecodeVariant::selected_pages: return pick(SelectedPages{});
          case DecodeVariant::streaming_window: return pick(StreamingWindow{});
        }
        throw Unsupported("cuda decode attention: unknown variant");
      });
    });
  });
}

}  // namespace

int prepare_decode_attention(const DecodeKernelKey& key) {
  int blocks_per_sm = 0;
  with_decode_kernel(key, [&](auto kernel, int dynamic_shared_bytes) {
    if (dynamic_shared_bytes > 0)
      UNISPARSE_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                dynamic_shared_bytes));
    // The rings are the bytes in flight: ask for the largest shared-memory share of the SM, so that
    // the occupancy below is what the launches get.
    UNISPARSE_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                                              int(cudaSharedmemCarveoutMaxShared)));
    UNISPARSE_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks_per_sm, kernel, kThreads,
                                                                       dynamic_shared_bytes));
  });
  if (blocks_per_sm < 1)
    throw Unsupported("cuda decode attention: the kernel for head_dim " + std::to_string(key.head_dim) +
                      " does not fit an SM");
  return blocks_per_sm;
}

void launch_decode_attention(const DecodeAttentionParams& params, const DecodeKernelKey& key,
                             int work_items, cudaStream_t stream) {
  if (work_items == 0) return;
  if (params.page_size > limits::kMaxPageSize)
    throw Unsupported("cuda decode attention: page_size " + std::to_string(params.page_size) + " > " +
                      std::to_string(limits::kMaxPageSize));
  if (params.num_splits < 1 || params.num_splits > params.max_splits)
    throw Unsupported("cuda decode attention: " + std::to_string(params.num_splits) + " splits (1.." +
                      std::to_string(params.max_splits) + ")");
  const dim3 grid(params.num_splits, work_items);
  with_decode_kernel(key, [&](auto kernel, int dynamic_shared_bytes) {
    kernel<<<grid, kThreads, dynamic_shared_bytes, stream>>>(params);
  });
  UNISPARSE_CUDA_CHECK_LAUNCH();
}

void launch_decode_merge(const DecodeMergeParams& params, int pool_rows, cudaStream_t stream) {
  if (pool_rows == 0) return;
  if (params.num_splits > limits::kMaxSplits)
    throw Unsupported("cuda decode merge: " + std::to_string(params.num_splits) + " splits > " +
                      std::to_string(limits::kMaxSplits));
  if (params.head_dim % limits::kMergeChannels != 0 || params.head_dim > limits::kMaxHeadDim)
    throw Unsupported("cuda decode merge: head_dim " + std::to_string(params.head_dim) + " (a multiple of " +
                      std::to_string(limits::kMergeChannels) + ", at most " +
                      std::to_string(limits::kMaxHeadDim) + ")");
  const dim3 grid(pool_rows * params.group_size, params.head_dim / limits::kMergeChannels);
  decode_merge_kernel<<<grid, kMergeThreads, 0, stream>>>(params);
  UNISPARSE_CUDA_CHECK_LAUNCH();
}

}  // namespace unisparse::cuda
