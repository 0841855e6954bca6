#include "kernels/common/dispatch.h"
#include "kernels/common/vector_load.cuh"
#include "kernels/select/selector.h"

namespace unisparse::cuda {
namespace {

constexpr int kScoreThreads = 128;
constexpr int kMaxHeadDim = 128;

// grid (ceil(scored pages / pages_per_block), pool rows), block pages_per_block * logical_per_physical
// threads: one thread per logical page scores it for every query head of the group, then one thread
// per physical page takes the max over its logical pages. Channels are summed in order 0..d-1 in
// fp32 (no contraction), the CPU backend's order, so that equal inputs give bit-equal scores.
template <class KvType, int kGroup>
__global__ void __launch_bounds__(kScoreThreads) page_scores_kernel(const __grid_constant__ PageScoreParams params) {
  __shared__ float query[kGroup][kMaxHeadDim];
  __shared__ float logical_score[kScoreThreads][kGroup];
  const int pool_row = blockIdx.y;
  const int batch = pool_row / params.pool_heads;
  const int kv_head = params.kv_head_of_pool_head[pool_row % params.pool_heads];
  for (int i = threadIdx.x; i < kGroup * params.head_dim; i += blockDim.x) {
    const int g = i / params.head_dim, channel = i % params.head_dim;
    query[g][channel] = params.query[(int64_t(batch) * params.num_q_heads + kv_head * kGroup + g) *
                                         params.head_dim + channel];
  }
  __syncthreads();
  const int pages_per_block = blockDim.x / params.logical_per_physical;
  const int first_page = blockIdx.x * pages_per_block;
  const int logical_page = first_page * params.logical_per_physical + threadIdx.x;
  if (logical_page < params.num_scored_pages * params.logical_per_physical) {
    const int64_t row_offset = int64_t(pool_row) * params.head_dim * params.logical_pages_per_row;
    const auto* key_max = static_cast<const KvType*>(params.key_max) + row_offset + logical_page;
    const auto* key_min = static_cast<const KvType*>(params.key_min) + row_offset + logical_page;
    float score[kGroup] = {};
#pragma unroll 8
    for (int channel = 0; channel < params.head_dim; ++channel) {
      const int64_t at = int64_t(channel) * params.logical_pages_per_row;
      const float high = to_float(key_max[at]), low = to_float(key_min[at]);
#pragma unroll
      for (int g = 0; g < kGroup; ++g)
        score[g] = __fadd_rn(score[g], fmaxf(__fmul_rn(query[g][channel], high),
                                             __fmul_rn(query[g][channel], low)));
    }
#pragma unroll
    for (int g = 0; g < kGroup; ++g) logical_score[threadIdx.x][g] = score[g];
  }
  __syncthreads();
  const int page = first_page + threadIdx.x;
  if (threadIdx.x >= pages_per_block || page >= params.num_scored_pages) return;
  float physical_score[kGroup];
#pragma unroll
  for (int g = 0; g < kGroup; ++g) {
    physical_score[g] = -INFINITY;
    for (int l = 0; l < params.logical_per_physical; ++l)
      physical_score[g] = fmaxf(physical_score[g], logical_score[threadIdx.x * params.logical_per_physical + l][g]);
  }
  if (params.gqa == GqaSelection::per_query_head) {
#pragma unroll
    for (int g = 0; g < kGroup; ++g)
      params.page_scores[(int64_t(pool_row) * kGroup + g) * params.score_stride + page] =
          physical_score[g];
    return;
  }
  float combined = physical_score[0];
#pragma unroll
  for (int g = 1; g < kGroup; ++g)
    combined = params.gqa == GqaSelection::kv_head_max ? fmaxf(combined, physical_score[g])
                                                       : __fadd_rn(combined, physical_score[g]);
  params.page_scores[int64_t(pool_row) * params.score_stride + page] = combined;
}

}  // namespace

void launch_page_scores(const PageScoreParams& params, DType kv_dtype, int group_size, int pool_rows,
                        cudaStream_t stream) {
  if (params.num_scored_pages <= 0 || pool_rows == 0) return;
  if (params.head_dim > kMaxHeadDim || params.logical_per_physical > kScoreThreads)
    throw Unsupported("cuda selector: head_dim " + std::to_string(params.head_dim) + " > 128 or " +
                      std::to_string(params.logical_per_physical) + " logical pages per page > 128");
  const int pages_per_block = kScoreThreads / params.logical_per_physical;
  UNISPARSE_DISPATCH_KV_DTYPE(kv_dtype, KvType, [&] {
    UNISPARSE_DISPATCH_GROUP(group_size, kGroup, [&] {
      const dim3 grid(ceil_div(params.num_scored_pages, pages_per_block), pool_rows);
      page_scores_kernel<KvType, kGroup>
          <<<grid, pages_per_block * params.logical_per_physical, 0, stream>>>(params);
      UNISPARSE_CUDA_CHECK_LAUNCH();
    });
  });
}

}  // namespace unisparse::cuda
