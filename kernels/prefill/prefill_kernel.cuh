#pragma once
// Block-sparse prefill attention, FlashAttention-2 style: one CTA owns a query block of one head,
// keeps it in shared memory, and walks its active KV tiles (active_tiles.cuh) with K/V double
// buffered through cp.async; S = Q K^T and O += P V run on tensor cores (mma.sync m16n8k16, operands
// through ldmatrix) with the online softmax in fp32. Dense causal, streaming and block-list heads are
// variants of this one body: they differ only in the tile list and in the per-token visibility, and a
// tile that every query fully sees skips the mask.
#include <cuda_runtime.h>

#include <cmath>

#include "kernels/common/online_softmax.cuh"
#include "kernels/common/warp_mma.cuh"
#include "kernels/prefill/active_tiles.cuh"
#include "kernels/prefill/prefill_params.h"

namespace unisparse::cuda {

inline constexpr int kPrefillWarps = 4;
inline constexpr int kPrefillThreads = kPrefillWarps * 32;

template <int kHeadDim, int kBlockM>
struct PrefillTileShape {
  static constexpr int kMTiles = kBlockM / (16 * kPrefillWarps);  // m16 tiles per warp
  static constexpr int kKeyTiles = kKvTile / 8;                   // n8 tiles of S per KV tile
  static constexpr int kDimTiles = kHeadDim / 8;                  // n8 tiles of O
  // Q [kBlockM][kHeadDim], then K [2][kKvTile][kHeadDim] and V [2][kKvTile][kHeadDim].
  static constexpr int kQElements = kBlockM * kHeadDim;
  static constexpr int kKvElements = kKvTile * kHeadDim;
  static constexpr int kSharedBytes = (kQElements + 4 * kKvElements) * 2;
  static_assert(kMTiles >= 1 && kBlockM % (16 * kPrefillWarps) == 0);
};

// Element offset of 16-byte chunk `chunk` of row `row` in a [rows][kHeadDim] tile. Chunks are
// XOR-swizzled with the row so that the 8 row addresses of one ldmatrix hit 8 different bank groups.
template <int kHeadDim>
__device__ __forceinline__ int swizzled_offset(int row, int chunk) {
  return row * kHeadDim + ((chunk ^ (row & 7)) * 8);
}

// Byte offset, within a swizzled [rows][kHeadDim] tile, of the 16-byte chunk one lane hands to an
// ldmatrix.x4 whose lane reads row (row_base + lane_row) at chunk (2 * chunk_pair + lane_chunk), with
// row_base a multiple of 8. Then row & 7 == lane_row & 7, so the swizzle is a per-lane constant and
// every fragment's offset is that constant XOR / plus compile-time terms: nothing per fragment has
// to stay live in registers across the KV loop. Equal to swizzled_offset(row, chunk) * 2.
template <int kHeadDim>
struct LdmatrixLaneOffset {
  static constexpr int kRowBytes = kHeadDim * 2;
  uint32_t lane_row_bytes;  // lane_row * kRowBytes
  uint32_t swizzle_bytes;   // (lane_chunk ^ (lane_row & 7)) * 16, below 128

  __device__ LdmatrixLaneOffset(int lane_row, int lane_chunk)
      : lane_row_bytes(lane_row * kRowBytes), swizzle_bytes((lane_chunk ^ (lane_row & 7)) << 4) {}

  // chunk = 2 * chunk_pair + lane_chunk = 8 * (chunk_pair / 4) + (2 * (chunk_pair % 4) | lane_chunk),
  // and the row's XOR only touches the low three bits of the chunk.
  __device__ uint32_t operator()(int row_base, int chunk_pair) const {
    return lane_row_bytes + row_base * kRowBytes + (chunk_pair >> 2) * 128 +
           (((chunk_pair & 3) * 32) ^ swizzle_bytes);
  }
};

// Copies rows [first_row, first_row + kRows) of a [seq_len][kHeadDim] matrix into a swizzled shared
// tile; rows at or past seq_len are zero-filled.
template <int kHeadDim, int kRows, class Element>
__device__ __forceinline__ void load_tile_async(Element* shared_tile, const Element* global_rows,
                                                int64_t row_stride, int first_row, int seq_len) {
  constexpr int kChunks = kRows * (kHeadDim / 8);
  static_assert(kChunks % kPrefillThreads == 0);
#pragma unroll
  for (int index = threadIdx.x; index < kChunks; index += kPrefillThreads) {
    const int row = index / (kHeadDim / 8), chunk = index % (kHeadDim / 8);
    const int token = first_row + row;
    const bool valid = token < seq_len;
    const Element* source = global_rows + (valid ? token : 0) * row_stride + chunk * 8;
    ptx::cp_async_16(ptx::shared_address(shared_tile + swizzled_offset<kHeadDim>(row, chunk)), source,
                     valid);
  }
}

template <class Element, int kHeadDim, int kBlockM>
__global__ void __launch_bounds__(kPrefillThreads, 2)
    block_sparse_prefill_kernel(const __grid_constant__ PrefillParams params) {
  using Shape = PrefillTileShape<kHeadDim, kBlockM>;
  constexpr int kMTiles = Shape::kMTiles;
  extern __shared__ __align__(128) unsigned char shared_bytes[];
  Element* shared_q = reinterpret_cast<Element*>(shared_bytes);
  Element* shared_k = shared_q + Shape::kQElements;         // [2][kKvTile][kHeadDim]
  Element* shared_v = shared_k + 2 * Shape::kKvElements;    // [2][kKvTile][kHeadDim]

  const int q_head = blockIdx.x;
  // Longest query blocks (most causal work) are scheduled first for load balance.
  const int q_block = params.num_q_blocks - 1 - blockIdx.y;
  const int batch = blockIdx.z;
  const int kv_head = q_head / params.group_size;
  const int query_begin = q_block * kBlockM;
  const int query_last = min(query_begin + kBlockM, params.seq_len) - 1;

  const TileVisibility rows{params.head_mode[q_head], params.seq_len, params.sink_tokens,
                            params.local_tokens, query_begin, query_last};
  const ActiveKvTiles active = enumerate_active_tiles(params, q_head, q_block, rows);

  const Element* q = static_cast<const Element*>(params.q) + batch * params.q_batch_stride +
                     q_head * params.q_head_stride;
  // K and V share one offset; their bases stay in the parameter bank rather than in two registers.
  const int64_t kv_offset = batch * params.kv_batch_stride + kv_head * params.kv_head_stride;

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int group = lane / 4, thread_in_group = lane % 4;  // mma fragment coordinates
  const int warp_first_row = warp * 16 * kMTiles;          // this warp's rows within the block
  // ldmatrix lanes: Q (A operand) and V (transposed B) read rows lane % 16 at chunk lane / 16 of a
  // 16 x 16 block; K (B operand) reads keys lane % 8 + 8 * (lane / 16) at chunk (lane / 8) % 2.
  const LdmatrixLaneOffset<kHeadDim> a_lane(lane & 15, lane >> 4);
  const LdmatrixLaneOffset<kHeadDim> k_lane((lane & 7) + ((lane >> 4) << 3), (lane >> 3) & 1);
  const uint32_t q_address = ptx::shared_address(shared_q);

  float o[kMTiles][Shape::kDimTiles][4] = {};
  // Per fragment row (group, group + 8); the max in log2 units (raw logit * softmax_scale_log2), the
  // sum this thread's share.
  SoftmaxState row_state[kMTiles][2];

  auto load_k = [&](int tile, int stage) {
    load_tile_async<kHeadDim, kKvTile>(shared_k + stage * Shape::kKvElements,
                                       static_cast<const Element*>(params.k) + kv_offset,
                                       params.kv_row_stride, tile * kKvTile, params.seq_len);
  };
  auto load_v = [&](int tile, int stage) {
    load_tile_async<kHeadDim, kKvTile>(shared_v + stage * Shape::kKvElements,
                                       static_cast<const Element*>(params.v) + kv_offset,
                                       params.kv_row_stride, tile * kKvTile, params.seq_len);
  };
  // cp.async groups are committed in the order Q+K(0), V(0), then per iteration K(i+1), V(i+1), so
  // "at most N groups pending" names exactly the tile half a step needs: S waits only for K(i) and
  // P V only for V(i), while the next tile's K and V stream into the other stage.
  if (active.count > 0) {
    load_tile_async<kHeadDim, kBlockM>(shared_q, q, params.q_row_stride, query_begin, params.seq_len);
    load_k(active.tile(0), 0);
    ptx::cp_async_commit();
    load_v(active.tile(0), 0);
    ptx::cp_async_commit();
  }

  for (int i = 0; i < active.count; ++i) {
    const int stage = i & 1;
    const int tile = active.tile(i);
    const bool has_next = i + 1 < active.count;
    if (has_next) {
      load_k(active.tile(i + 1), stage ^ 1);
      ptx::cp_async_commit();
      ptx::cp_async_wait<2>();  // pending: V(i), K(i+1)
    } else {
      ptx::cp_async_wait<1>();  // pending: V(i)
    }
    __syncthreads();
    const uint32_t tile_k_address = ptx::shared_address(shared_k + stage * Shape::kKvElements);
    const uint32_t tile_v_address = ptx::shared_address(shared_v + stage * Shape::kKvElements);

    // S = Q K^T for this warp's rows: s[mt][key n8 tile][fragment].
    float s[kMTiles][Shape::kKeyTiles][4] = {};
#pragma unroll
    for (int kk = 0; kk < kHeadDim / 16; ++kk) {
      uint32_t a[kMTiles][4];
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt)
        ptx::ldmatrix_x4(a[mt], q_address + a_lane(warp_first_row + mt * 16, kk));
#pragma unroll
      for (int key_pair = 0; key_pair < Shape::kKeyTiles / 2; ++key_pair) {
        uint32_t b[4];  // b[0..1]: keys key_pair*16 + 0..7, b[2..3]: + 8..15
        ptx::ldmatrix_x4(b, tile_k_address + k_lane(key_pair * 16, kk));
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt) {
          ptx::mma_16816<Element>(s[mt][2 * key_pair], a[mt], b[0], b[1]);
          ptx::mma_16816<Element>(s[mt][2 * key_pair + 1], a[mt], b[2], b[3]);
        }
      }
    }

    if (!rows.fully_visible(tile)) {
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
        for (int nt = 0; nt < Shape::kKeyTiles; ++nt)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int query = query_begin + warp_first_row + mt * 16 + group + (e >= 2 ? 8 : 0);
            const int key = tile * kKvTile + nt * 8 + thread_in_group * 2 + (e & 1);
            if (!rows.visible(query, key)) s[mt][nt][e] = -INFINITY;
          }
    }

    // Online softmax (base 2): rescale the running output by exp2(old max - new max). A row that
    // has seen no visible key yet keeps max -inf and weighs its -inf logits to 0.
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt) {
      float correction[2];
      bool max_changed = false;
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        float tile_max = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < Shape::kKeyTiles; ++nt)
          tile_max = fmaxf(tile_max, fmaxf(s[mt][nt][2 * half], s[mt][nt][2 * half + 1]));
        tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffff, tile_max, 1));
        tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffff, tile_max, 2));
        correction[half] = row_state[mt][half].raise_max(tile_max * params.softmax_scale_log2);
        max_changed |= correction[half] != 1.f;
        float sum = 0.f;
#pragma unroll
        for (int nt = 0; nt < Shape::kKeyTiles; ++nt)
#pragma unroll
          for (int e = 2 * half; e < 2 * half + 2; ++e) {
            s[mt][nt][e] = row_state[mt][half].weight(s[mt][nt][e], params.softmax_scale_log2);
            sum += s[mt][nt][e];
          }
        row_state[mt][half].sum += sum;  // per-thread partial sum
      }
      // Past the first tiles a row's max rarely moves: the warp skips the rescale of its outputs
      // when none of its rows' max did.
      if (__any_sync(0xffffffff, max_changed)) {
#pragma unroll
        for (int dt = 0; dt < Shape::kDimTiles; ++dt) {
          o[mt][dt][0] *= correction[0];
          o[mt][dt][1] *= correction[0];
          o[mt][dt][2] *= correction[1];
          o[mt][dt][3] *= correction[1];
        }
      }
    }

    if (has_next) {
      load_v(active.tile(i + 1), stage ^ 1);  // recomputed: one register fewer across S
      ptx::cp_async_commit();
      ptx::cp_async_wait<2>();  // pending: K(i+1), V(i+1)
    } else {
      ptx::cp_async_wait<0>();
    }
    __syncthreads();

    // O += P V, P packed into mma A fragments 16 keys at a time (s now holds the probabilities).
#pragma unroll
    for (int ks = 0; ks < kKvTile / 16; ++ks) {
      uint32_t p[kMTiles][4];
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt) {
        p[mt][0] = ptx::pack_pair<Element>(s[mt][2 * ks][0], s[mt][2 * ks][1]);
        p[mt][1] = ptx::pack_pair<Element>(s[mt][2 * ks][2], s[mt][2 * ks][3]);
        p[mt][2] = ptx::pack_pair<Element>(s[mt][2 * ks + 1][0], s[mt][2 * ks + 1][1]);
        p[mt][3] = ptx::pack_pair<Element>(s[mt][2 * ks + 1][2], s[mt][2 * ks + 1][3]);
      }
#pragma unroll
      for (int dim_pair = 0; dim_pair < Shape::kDimTiles / 2; ++dim_pair) {
        uint32_t b[4];  // b[0..1]: dims dim_pair*16 + 0..7, b[2..3]: + 8..15
        ptx::ldmatrix_x4_trans(b, tile_v_address + a_lane(ks * 16, dim_pair));
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt) {
          ptx::mma_16816<Element>(o[mt][2 * dim_pair], p[mt], b[0], b[1]);
          ptx::mma_16816<Element>(o[mt][2 * dim_pair + 1], p[mt], b[2], b[3]);
        }
      }
    }
    // No barrier here: iteration i + 1 refills this stage's K before its first barrier (every warp
    // has passed this iteration's second one, so S(i) is done) and its V after that first barrier
    // (so P V(i) is done).
  }

  // Normalise and store the rows inside the sequence. A row with no visible key writes zeros.
  float* out = params.out + batch * params.out_batch_stride + q_head * params.out_head_stride;
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float sum = row_state[mt][half].sum;
      sum += __shfl_xor_sync(0xffffffff, sum, 1);
      sum += __shfl_xor_sync(0xffffffff, sum, 2);
      const float inverse = sum > 0.f ? 1.f / sum : 0.f;
      const int query = query_begin + warp_first_row + mt * 16 + group + half * 8;
      if (query >= params.seq_len) continue;
      float* out_row = out + query * params.out_row_stride;
#pragma unroll
      for (int dt = 0; dt < Shape::kDimTiles; ++dt)
        *reinterpret_cast<float2*>(out_row + dt * 8 + thread_in_group * 2) =
            make_float2(o[mt][dt][2 * half] * inverse, o[mt][dt][2 * half + 1] * inverse);
    }
}

}  // namespace unisparse::cuda
