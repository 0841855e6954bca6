#pragma once
// Block-sparse prefill attention for sm_90a: the Hopper variant of prefill_kernel.cuh's skeleton. One
// CTA owns a query block of one head and walks the same active-tile list (active_tiles.cuh, tiles of
// a whole plan block); dense causal, streaming and block-list heads differ only in that list and in
// the token visibility of boundary tiles.
//
// Warp specialisation (FlashAttention-3 structure): warpgroup 0 is the copy warpgroup, one thread of
// which issues TMA loads of Q and of every active K and V tile into rings of Config::kStages tiles
// with full / empty mbarriers; warpgroups 1.. own 64 query rows each and compute S = Q K^T with
// wgmma from shared memory, the online softmax in registers, and O += P V with P as the register A
// operand. Within a warpgroup the softmax of tile i overlaps the wgmma of P V(i - 1); two math
// warpgroups also alternate their wgmma issue (named barriers), so one's softmax runs while the
// other's products occupy the tensor cores.
#include <cuda.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "kernels/common/online_softmax.cuh"
#include "kernels/common/sm90_ptx.cuh"
#include "kernels/common/sm90_smem_descriptor.h"
#include "kernels/common/warp_mma.cuh"
#include "kernels/prefill/active_tiles.cuh"
#include "kernels/prefill/prefill_params.h"
#include "kernels/prefill/prefill_sm90_config.h"

namespace unisparse::cuda {

// The plan and the three tensor maps (prefill_sm90_tma.h), passed by value as a grid constant so that
// TMA reads the maps from the parameter bank.
struct Sm90PrefillParams {
  PrefillParams plan;
  CUtensorMap q_map;  // boxes [64 columns][kBlockM rows] of Q
  CUtensorMap k_map;  // boxes [64 columns][kBlockN rows] of K
  CUtensorMap v_map;  // boxes [64 columns][kBlockN rows] of V
};

namespace sm90_prefill {

// Named barriers of the two math warpgroups' alternation (0 is __syncthreads).
inline constexpr int kFirstPingPongBarrier = 1;

// The mbarriers of the CTA: Q, then a full and an empty ring for K and for V.
template <class Config>
struct Barriers {
  uint64_t* q_full;
  uint64_t* k_full;   // [kStages]: the TMA writes of a K tile have landed
  uint64_t* k_empty;  // [kStages]: every math thread is done reading it
  uint64_t* v_full;
  uint64_t* v_empty;

  __device__ explicit Barriers(unsigned char* shared) {
    auto* base = reinterpret_cast<uint64_t*>(shared + Config::kBarrierOffset);
    q_full = base;
    k_full = base + 1;
    k_empty = k_full + Config::kStages;
    v_full = k_empty + Config::kStages;
    v_empty = v_full + Config::kStages;
  }
};

// Ring slot and phase parity of the i-th tile a ring carries.
template <class Config>
__device__ __forceinline__ int stage_of(int i) { return i % Config::kStages; }
template <class Config>
__device__ __forceinline__ uint32_t parity_of(int i) { return (i / Config::kStages) & 1; }

// The copy thread: Q once, then K(0), and K(i), V(i - 1) for i = 1.., and V(last): the order in
// which the math warpgroups need them.
template <class Config>
__device__ __forceinline__ void load_tiles(const Sm90PrefillParams& params, unsigned char* shared,
                                           const Barriers<Config>& barriers,
                                           const ActiveKvTiles& active, int q_head, int kv_head,
                                           int batch, int query_begin) {
  using sm90::tma_load_4d;
  constexpr int kPanel = sm90::kSwizzlePanelColumns;
  sm90::mbarrier_arrive_expect_bytes(barriers.q_full, Config::kQBytes);
#pragma unroll
  for (int panel = 0; panel < Config::kColumnPanels; ++panel)
    tma_load_4d(shared + Config::kQOffset + panel * Config::kQPanelBytes, &params.q_map,
                panel * kPanel, query_begin, q_head, batch, barriers.q_full);

  const auto load_kv = [&](const CUtensorMap* map, int ring_offset, uint64_t* full, uint64_t* empty,
                           int i) {
    const int stage = stage_of<Config>(i);
    // A slot's first use finds its empty barrier in phase 0, and waiting for parity 1 passes.
    sm90::mbarrier_wait(empty + stage, parity_of<Config>(i) ^ 1);
    sm90::mbarrier_arrive_expect_bytes(full + stage, Config::kKvTileBytes);
    unsigned char* tile = shared + ring_offset + stage * Config::kKvTileBytes;
    const int key_begin = active.tile(i) * Config::kBlockN;
#pragma unroll
    for (int panel = 0; panel < Config::kColumnPanels; ++panel)
      tma_load_4d(tile + panel * Config::kKvPanelBytes, map, panel * kPanel, key_begin, kv_head,
                  batch, full + stage);
  };
  load_kv(&params.k_map, Config::kKOffset, barriers.k_full, barriers.k_empty, 0);
  for (int i = 1; i < active.count; ++i) {
    load_kv(&params.k_map, Config::kKOffset, barriers.k_full, barriers.k_empty, i);
    load_kv(&params.v_map, Config::kVOffset, barriers.v_full, barriers.v_empty, i - 1);
  }
  load_kv(&params.v_map, Config::kVOffset, barriers.v_full, barriers.v_empty, active.count - 1);
}

// One math warpgroup's 64 query rows: accumulators and the online-softmax state of its two rows per
// thread (fragment rows `group` and `group + 8` of the thread's warp).
template <class Element, class Config>
struct MathWarpgroup {
  float s[Config::kScoreRegisters];       // S, then P in fp32: [n8 block j][4] as in sm90_ptx.cuh
  float o[Config::kOutputRegisters];      // O: [n8 block j of head dims][4]
  uint32_t p[Config::kPvSteps][4];        // P as the A fragments of the k16 steps of P V
  // The max in log2 units (raw logit * softmax_scale_log2); the sum this thread's share, added over
  // the quad at the end.
  SoftmaxState row_state[2];
  float correction[2] = {1.f, 1.f};       // exp2 scale of O for the tile just softened

  __device__ MathWarpgroup() {
#pragma unroll
    for (int i = 0; i < Config::kOutputRegisters; ++i) o[i] = 0.f;
  }

  // S = Q K^T for the warpgroup's rows against the K tile at k_descriptor.
  __device__ __forceinline__ void issue_scores(uint64_t q_descriptor, uint64_t k_descriptor) {
#pragma unroll
    for (int step = 0; step < Config::kQkSteps; ++step) {
      const uint64_t a = sm90::advance_smem_descriptor(
          q_descriptor, sm90::k_major_step_offset(Config::kBlockM, step));
      const uint64_t b = sm90::advance_smem_descriptor(
          k_descriptor, sm90::k_major_step_offset(Config::kBlockN, step));
      if (step == 0)
        sm90::wgmma_ss<Config::kBlockN, Element, false>(s, a, b);
      else
        sm90::wgmma_ss<Config::kBlockN, Element, true>(s, a, b);
    }
  }
  // O += P V against the V tile at v_descriptor.
  __device__ __forceinline__ void issue_values(uint64_t v_descriptor) {
#pragma unroll
    for (int step = 0; step < Config::kPvSteps; ++step)
      sm90::wgmma_rs_accumulate<Config::kHeadDim, Element>(
          o, p[step], sm90::advance_smem_descriptor(v_descriptor, sm90::mn_major_step_offset(step)));
  }

  // Masks S of `tile` where the rows do not see a key, then turns it into this tile's probabilities
  // (base 2, in place), updating max, sum and the output correction. Whether any row of the warp
  // changed its max (else the correction is exactly 1 and O needs no rescale). A row that has seen
  // no visible key yet keeps max -inf and weighs its -inf logits to 0.
  __device__ __forceinline__ bool soften(const TileVisibility& rows, int tile, int first_row,
                                         int thread_in_group, float scale_log2) {
    if (!rows.template fully_visible<Config::kBlockN>(tile)) {
#pragma unroll
      for (int j = 0; j < Config::kBlockN / 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int query = rows.query_begin + first_row + (e >= 2 ? 8 : 0);
          const int key = tile * Config::kBlockN + j * 8 + thread_in_group * 2 + (e & 1);
          if (!rows.visible(query, key)) s[4 * j + e] = -INFINITY;
        }
    }
    bool max_changed = false;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float tile_max = -INFINITY;
#pragma unroll
      for (int j = 0; j < Config::kBlockN / 8; ++j)
        tile_max = fmaxf(tile_max, fmaxf(s[4 * j + 2 * half], s[4 * j + 2 * half + 1]));
      tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffff, tile_max, 1));
      tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffff, tile_max, 2));
      correction[half] = row_state[half].raise_max(tile_max * scale_log2);
      max_changed |= correction[half] != 1.f;
      float sum = 0.f;
#pragma unroll
      for (int j = 0; j < Config::kBlockN / 8; ++j)
#pragma unroll
        for (int e = 2 * half; e < 2 * half + 2; ++e) {
          s[4 * j + e] = row_state[half].weight(s[4 * j + e], scale_log2);
          sum += s[4 * j + e];
        }
      row_state[half].sum += sum;
    }
    return __any_sync(0xffffffff, max_changed);
  }

  __device__ __forceinline__ void rescale_output() {
#pragma unroll
    for (int j = 0; j < Config::kHeadDim / 8; ++j) {
      o[4 * j + 0] *= correction[0];
      o[4 * j + 1] *= correction[0];
      o[4 * j + 2] *= correction[1];
      o[4 * j + 3] *= correction[1];
    }
  }

  // P (fp32 in s) into the A fragments of P V: k16 step `step` covers n8 blocks 2 step and
  // 2 step + 1 of S, rows (group, group + 8), so the packing is the mma.m16n8k16 one.
  __device__ __forceinline__ void pack_probabilities() {
#pragma unroll
    for (int step = 0; step < Config::kPvSteps; ++step) {
      const float* x = s + 8 * step;
      p[step][0] = ptx::pack_pair<Element>(x[0], x[1]);
      p[step][1] = ptx::pack_pair<Element>(x[2], x[3]);
      p[step][2] = ptx::pack_pair<Element>(x[4], x[5]);
      p[step][3] = ptx::pack_pair<Element>(x[6], x[7]);
    }
  }

  // Normalised rows inside the sequence; a row with no visible key writes zeros.
  __device__ __forceinline__ void store(const PrefillParams& plan, int batch, int q_head,
                                        int first_query, int thread_in_group) const {
    float* out = plan.out + batch * plan.out_batch_stride + q_head * plan.out_head_stride;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float sum = row_state[half].sum;
      sum += __shfl_xor_sync(0xffffffff, sum, 1);
      sum += __shfl_xor_sync(0xffffffff, sum, 2);
      const float inverse = sum > 0.f ? 1.f / sum : 0.f;
      const int query = first_query + half * 8;
      if (query >= plan.seq_len) continue;
      float* out_row = out + query * plan.out_row_stride;
#pragma unroll
      for (int j = 0; j < Config::kHeadDim / 8; ++j)
        *reinterpret_cast<float2*>(out_row + j * 8 + thread_in_group * 2) =
            make_float2(o[4 * j + 2 * half] * inverse, o[4 * j + 2 * half + 1] * inverse);
    }
  }
};

// The math warpgroup `math_warpgroup` (0-based) of the CTA over the active tiles.
template <class Element, class Config>
__device__ __forceinline__ void attend_tiles(const PrefillParams& plan, unsigned char* shared,
                                             const Barriers<Config>& barriers,
                                             const ActiveKvTiles& active, const TileVisibility& rows,
                                             int math_warpgroup, int q_head, int batch) {
  const int thread = threadIdx.x % sm90::kWarpgroupThreads;
  const int warp = thread / 32, lane = thread % 32;
  const int group = lane / 4, thread_in_group = lane % 4;
  // This thread's first row within the CTA's query block (the second is 8 below).
  const int first_row = math_warpgroup * Config::kRowsPerWarpgroup + warp * 16 + group;

  MathWarpgroup<Element, Config> math;
  if (active.count > 0) {
    const uint32_t base = ptx::shared_address(shared);
    const uint64_t q_descriptor = sm90::k_major_descriptor(
        base + Config::kQOffset + sm90::row_offset(math_warpgroup * Config::kRowsPerWarpgroup));
    const uint64_t k_ring = sm90::k_major_descriptor(base + Config::kKOffset);
    const uint64_t v_ring = sm90::mn_major_descriptor(base + Config::kVOffset, Config::kBlockN);
    const auto k_descriptor = [&](int stage) {
      return sm90::advance_smem_descriptor(k_ring, stage * Config::kKvTileBytes);
    };
    const auto v_descriptor = [&](int stage) {
      return sm90::advance_smem_descriptor(v_ring, stage * Config::kKvTileBytes);
    };
    const int own_barrier = kFirstPingPongBarrier + math_warpgroup;
    const int other_barrier = kFirstPingPongBarrier + 1 - math_warpgroup;
    constexpr int kPingPongThreads = 2 * sm90::kWarpgroupThreads;

    sm90::mbarrier_wait(barriers.q_full, 0);
    // Tile 0: its scores alone.
    sm90::mbarrier_wait(barriers.k_full, 0);
    sm90::fence_registers(math.s);
    sm90::wgmma_fence();
    math.issue_scores(q_descriptor, k_descriptor(0));
    sm90::wgmma_commit();
    sm90::wgmma_wait<0>();
    sm90::fence_registers(math.s);
    sm90::mbarrier_arrive(barriers.k_empty);
    math.soften(rows, active.tile(0), first_row, thread_in_group, plan.softmax_scale_log2);
    math.pack_probabilities();

    // Tile i: S(i) and P V(i - 1) in flight together; the softmax of S(i) runs under P V(i - 1).
    for (int i = 1; i < active.count; ++i) {
      const int k_stage = stage_of<Config>(i), v_stage = stage_of<Config>(i - 1);
      sm90::mbarrier_wait(barriers.k_full + k_stage, parity_of<Config>(i));
      // Alternation: warpgroup 0 issues first (its first turn needs no signal); each passes the turn
      // after issuing, and warpgroup 1 does not pass it after its last tile, so every arrival is
      // matched by a wait.
      if constexpr (Config::kPingPong)
        if (math_warpgroup == 1 || i > 1) sm90::named_barrier_sync(own_barrier, kPingPongThreads);
      sm90::fence_registers(math.s);
      sm90::fence_registers(math.o);
      sm90::fence_registers(math.p);
      sm90::wgmma_fence();
      math.issue_scores(q_descriptor, k_descriptor(k_stage));
      sm90::wgmma_commit();
      sm90::mbarrier_wait(barriers.v_full + v_stage, parity_of<Config>(i - 1));
      math.issue_values(v_descriptor(v_stage));
      sm90::wgmma_commit();
      if constexpr (Config::kPingPong)
        if (math_warpgroup == 0 || i + 1 < active.count)
          sm90::named_barrier_arrive(other_barrier, kPingPongThreads);

      sm90::wgmma_wait<1>();  // S(i) done; P V(i - 1) may still run
      sm90::fence_registers(math.s);
      sm90::mbarrier_arrive(barriers.k_empty + k_stage);
      const bool rescale =
          math.soften(rows, active.tile(i), first_row, thread_in_group, plan.softmax_scale_log2);
      sm90::wgmma_wait<0>();  // P V(i - 1) done: O, P and the V slot are free
      sm90::fence_registers(math.o);
      sm90::fence_registers(math.p);
      sm90::mbarrier_arrive(barriers.v_empty + v_stage);
      if (rescale) math.rescale_output();
      math.pack_probabilities();
    }

    const int last = active.count - 1;
    const int v_stage = stage_of<Config>(last);
    sm90::mbarrier_wait(barriers.v_full + v_stage, parity_of<Config>(last));
    sm90::fence_registers(math.o);
    sm90::fence_registers(math.p);
    sm90::wgmma_fence();
    math.issue_values(v_descriptor(v_stage));
    sm90::wgmma_commit();
    sm90::wgmma_wait<0>();
    sm90::fence_registers(math.o);
    sm90::fence_registers(math.p);
    sm90::mbarrier_arrive(barriers.v_empty + v_stage);
  }
  math.store(plan, batch, q_head, rows.query_begin + first_row, thread_in_group);
}

}  // namespace sm90_prefill

template <class Element, int kHeadDim, int kBlockM>
__global__ void __launch_bounds__(Sm90PrefillConfig<kHeadDim, kBlockM>::kThreads,
                                  Sm90PrefillConfig<kHeadDim, kBlockM>::kBlocksPerSm)
    block_sparse_prefill_kernel_sm90(const __grid_constant__ Sm90PrefillParams params) {
#ifdef UNISPARSE_SM90A_DEVICE_CODE
  using Config = Sm90PrefillConfig<kHeadDim, kBlockM>;
  using namespace sm90_prefill;
  extern __shared__ unsigned char shared_window[];
  // Swizzled panels must start on 1024-byte boundaries; the launch reserves the slack.
  unsigned char* shared =
      shared_window + ((0u - ptx::shared_address(shared_window)) & (sm90::kSwizzleAtomBytes - 1));
  const Barriers<Config> barriers(shared);

  const PrefillParams& plan = params.plan;
  const int q_head = blockIdx.x;
  // Longest query blocks (most causal work) are scheduled first for load balance.
  const int q_block = plan.num_q_blocks - 1 - blockIdx.y;
  const int batch = blockIdx.z;
  const int kv_head = q_head / plan.group_size;
  const int query_begin = q_block * kBlockM;
  const int query_last = min(query_begin + kBlockM, plan.seq_len) - 1;
  const TileVisibility rows{plan.head_mode[q_head], plan.seq_len, plan.sink_tokens,
                            plan.local_tokens, query_begin, query_last};
  const ActiveKvTiles active = enumerate_active_tiles<Config::kBlockN>(plan, q_head, q_block, rows);

  if (threadIdx.x == 0) {
    sm90::mbarrier_init(barriers.q_full, 1);
    for (int stage = 0; stage < Config::kStages; ++stage) {
      sm90::mbarrier_init(barriers.k_full + stage, 1);
      sm90::mbarrier_init(barriers.v_full + stage, 1);
      sm90::mbarrier_init(barriers.k_empty + stage, Config::kMathThreads);
      sm90::mbarrier_init(barriers.v_empty + stage, Config::kMathThreads);
    }
    sm90::fence_barrier_init();
  }
  __syncthreads();

  // Broadcast from lane 0 so that the compiler knows the role is uniform across each warp (wgmma
  // issued under a branch it cannot prove uniform is serialised).
  const int warpgroup = __shfl_sync(0xffffffff, int(threadIdx.x) / sm90::kWarpgroupThreads, 0);
  if (warpgroup == 0) {
    sm90::warpgroup_registers_release<Config::kCopyRegisters>();
    if (threadIdx.x == 0 && active.count > 0)
      load_tiles<Config>(params, shared, barriers, active, q_head, kv_head, batch, query_begin);
    return;
  }
  sm90::warpgroup_registers_claim<Config::kMathRegisters>();
  attend_tiles<Element, Config>(plan, shared, barriers, active, rows, warpgroup - 1, q_head, batch);
#endif
}

}  // namespace unisparse::cuda
