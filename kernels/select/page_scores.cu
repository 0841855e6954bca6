#include <numeric>

#include "kernels/common/dispatch.h"
#include "kernels/common/launch_limits.h"
#include "kernels/common/vector_load.cuh"
#include "kernels/select/selector.h"

namespace unisparse::cuda {
namespace {

constexpr int kPerThread = limits::kScoreLogicalPerThread;
constexpr int kChunkChannels = 8;  // channels whose loads are issued together
static_assert(kPerThread == 2, "a thread's pages are one 32-bit load of two 16-bit statistics");

// Two 16-bit statistics of consecutive logical pages, widened.
template <class KvType>
__device__ __forceinline__ float2 widen_pair(uint32_t bits) {
  if constexpr (std::is_same_v<KvType, __half>)
    return __half22float2(*reinterpret_cast<const __half2*>(&bits));
  else
    return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&bits));
}

// grid (ceil(scored pages / pages_per_block), pool rows), block pages_per_block *
// logical_per_physical / kPerThread threads: each thread scores kPerThread consecutive logical pages
// for every query head of the group, then one thread per physical page takes the max over its
// logical pages.
//
// Channels are summed in order 0..d-1 in fp32 without contraction, the CPU backend's order, so that
// equal inputs give bit-equal scores. max(q kmax, q kmin) is q kmax for q >= 0 and q kmin otherwise
// (kmax >= kmin and rounding is monotonic), so each term is one product of the statistic the
// query's sign picks: the same value with half the multiplies. The loads of the next kChunkChannels
// channels are in flight while the current ones are summed.
template <class KvType, int kHeadDim, int kGroup>
__global__ void __launch_bounds__(limits::kScoreMaxThreads) page_scores_kernel(
    const __grid_constant__ PageScoreParams params, int pages_per_block) {
  constexpr int kChunks = kHeadDim / kChunkChannels;
  __shared__ float query[kGroup][kHeadDim];
  __shared__ float logical_score[kGroup][limits::kScoreMaxThreads * kPerThread];
  const int pool_row = blockIdx.y;
  const int batch = pool_row / params.pool_heads;
  const int kv_head = params.kv_head_of_pool_head[pool_row % params.pool_heads];
  for (int i = threadIdx.x; i < kGroup * kHeadDim; i += blockDim.x) {
    const int g = i / kHeadDim, channel = i % kHeadDim;
    query[g][channel] = params.query[(int64_t(batch) * params.num_q_heads + kv_head * kGroup + g) * kHeadDim + channel];
  }
  __syncthreads();

  const int logical_per_physical = params.logical_per_physical;
  const int local = threadIdx.x * kPerThread;  // first logical page of this thread in the block
  const int logical = blockIdx.x * pages_per_block * logical_per_physical + local;
  if (logical < params.num_scored_pages * logical_per_physical) {
    const int64_t stride = params.logical_page_stride;
    const int64_t first = int64_t(pool_row) * kHeadDim * stride + logical;
    const auto* key_max = static_cast<const KvType*>(params.key_max) + first;
    const auto* key_min = static_cast<const KvType*>(params.key_min) + first;
    uint32_t high[2][kChunkChannels], low[2][kChunkChannels];
    const auto load = [&](int chunk, int buffer) {
#pragma unroll
      for (int c = 0; c < kChunkChannels; ++c) {
        const int64_t at = int64_t(chunk * kChunkChannels + c) * stride;
        high[buffer][c] = *reinterpret_cast<const uint32_t*>(key_max + at);
        low[buffer][c] = *reinterpret_cast<const uint32_t*>(key_min + at);
      }
    };
    float score[kGroup][kPerThread] = {};
    load(0, 0);
#pragma unroll
    for (int chunk = 0; chunk < kChunks; ++chunk) {
      const int buffer = chunk % 2;
      if (chunk + 1 < kChunks) load(chunk + 1, 1 - buffer);
#pragma unroll
      for (int c = 0; c < kChunkChannels; ++c) {
        const int channel = chunk * kChunkChannels + c;
        const float2 page_max = widen_pair<KvType>(high[buffer][c]);
        const float2 page_min = widen_pair<KvType>(low[buffer][c]);
#pragma unroll
        for (int g = 0; g < kGroup; ++g) {
          const float q = query[g][channel];
          const bool upper = q >= 0.0f;
          score[g][0] = __fadd_rn(score[g][0], __fmul_rn(q, upper ? page_max.x : page_min.x));
          score[g][1] = __fadd_rn(score[g][1], __fmul_rn(q, upper ? page_max.y : page_min.y));
        }
      }
    }
#pragma unroll
    for (int g = 0; g < kGroup; ++g)
#pragma unroll
      for (int e = 0; e < kPerThread; ++e) logical_score[g][local + e] = score[g][e];
  }
  __syncthreads();
  for (int page_in_block = threadIdx.x; page_in_block < pages_per_block; page_in_block += blockDim.x) {
    const int page = blockIdx.x * pages_per_block + page_in_block;
    if (page >= params.num_scored_pages) return;
    float physical_score[kGroup];
#pragma unroll
    for (int g = 0; g < kGroup; ++g) {
      physical_score[g] = -INFINITY;
      for (int l = 0; l < logical_per_physical; ++l)
        physical_score[g] = fmaxf(physical_score[g], logical_score[g][page_in_block * logical_per_physical + l]);
    }
    if (params.gqa == GqaSelection::per_query_head) {
#pragma unroll
      for (int g = 0; g < kGroup; ++g)
        params.page_scores[(int64_t(pool_row) * kGroup + g) * params.score_stride + page] = physical_score[g];
      continue;
    }
    float combined = physical_score[0];
#pragma unroll
    for (int g = 1; g < kGroup; ++g)
      combined = params.gqa == GqaSelection::kv_head_max ? fmaxf(combined, physical_score[g])
                                                         : __fadd_rn(combined, physical_score[g]);
    params.page_scores[int64_t(pool_row) * params.score_stride + page] = combined;
  }
}

}  // namespace

int score_block_physical_pages(int logical_per_physical) {
  if (logical_per_physical < 1 || logical_per_physical > limits::kMaxPageSize)
    throw Unsupported("cuda selector: " + std::to_string(logical_per_physical) +
                      " logical pages per physical page (1.." + std::to_string(limits::kMaxPageSize) + ")");
  // The fewest physical pages whose logical pages divide into whole threads, then as many of those
  // as make about kScoreTargetThreads threads.
  const int unit = kPerThread / std::gcd(logical_per_physical, kPerThread);
  const int units = std::max(1, limits::kScoreTargetThreads * kPerThread / (unit * logical_per_physical));
  return unit * units;
}

void launch_page_scores(const PageScoreParams& params, DType kv_dtype, int group_size, int pool_rows,
                        cudaStream_t stream) {
  if (params.num_scored_pages <= 0 || pool_rows == 0) return;
  if (params.logical_page_stride % limits::kStatsPageAlignment != 0)
    throw Unsupported("cuda selector: the statistics' page stride " +
                      std::to_string(params.logical_page_stride) + " is not a multiple of " +
                      std::to_string(limits::kStatsPageAlignment));
  const int pages_per_block = score_block_physical_pages(params.logical_per_physical);
  const int threads = pages_per_block * params.logical_per_physical / kPerThread;
  const dim3 grid(ceil_div(params.num_scored_pages, pages_per_block), pool_rows);
  UNISPARSE_DISPATCH_KV_DTYPE("cuda selector", kv_dtype, KvType, [&] {
    UNISPARSE_DISPATCH_HEAD_DIM("cuda selector", params.head_dim, kHeadDim, [&] {
      UNISPARSE_DISPATCH_GROUP("cuda selector", group_size, kGroup, [&] {
        page_scores_kernel<KvType, kHeadDim, kGroup><<<grid, threads, 0, stream>>>(params, pages_per_block);
        UNISPARSE_CUDA_CHECK_LAUNCH();
      });
    });
  });
}

}  // namespace unisparse::cuda
