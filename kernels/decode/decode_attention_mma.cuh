#pragma once
// Decode attention over quantized KV (int8, int4, fp8 pages) on tensor cores: the same split-KV
// skeleton and sparsity variants as decode_attention_kernel, with the per-token products on
// mma.sync m16n8k16 (fp16 in, fp32 accumulate) instead of fp32 CUDA cores.
//
// Why tensor cores here: a byte of int4 KV holds 4x the elements of a byte of fp16, so the fp32
// dequantize-and-FMA loop needs 4x the instructions per byte and runs out of issue slots long
// before HBM runs out of bandwidth (the CUDA-core version reached 0.9-1.5 TB/s at 128k batch 16;
// results/quant_decode_dense/h200-20261128c). Here the codes go into the mma as exact small
// integers (an fp16 trick of one byte permute and one subtraction per two codes) and the
// dequantization is factored out of the inner products:
//   q . k' = scale_t * (q . code_t - zero_t * sum(q))          per token t (int8 / int4)
//   sum_t p_t v'_t = sum_t (p_t scale_t) code_t - sum_t p_t scale_t zero_t
// fp8 codes become fp16 exactly (one cvt per two codes) and the row scale applies at the end.
//
// Layout, per warp and 16-token tile (the query group padded to 16 rows of A, then 8 columns of B):
//   S [16 q x 8 tok] = Q [16 q x 16 ch] . K^T        two 8-token halves, kHeadDim / 16 k-steps
//   O^T [16 ch x 8 q] += V^T [16 ch x 16 tok] . P^T  kHeadDim / 16 output tiles
// Lane (row = lane / 4, quad = lane % 4) loads the K rows of tokens row and row + 8 over its quarter
// of the channels (the dot product does not care in which order the channels meet, so Q is packed
// in the order the codes unpack), and the V rows of tokens 2 quad, 2 quad + 1, 2 quad + 8, 2 quad + 9
// over two sixteenths of the channels (output tile m, row r is channel r * kHeadDim / 16 + m). Those
// four tokens are exactly the ones whose scores the lane holds for query row, which is the lane's
// column of P^T, so P goes from the S accumulators into the B operand without a shuffle. O is
// accumulated transposed so that the padding of the group costs no accumulator registers (8 query
// columns instead of 16 rows). Each warp keeps its own online softmax over the tiles it takes (round
// robin over the split's chunks). Its loads go through a ring of kStages tiles in shared memory
// (cp.async): while it computes one tile the next kStages - 1 are in flight, and what is in flight
// holds no registers, so the number of tiles in flight no longer trades against the blocks an SM
// holds. Each lane copies its own K and V words into its own slots and reads back only those; the
// 16 tokens' dequantization parameters are copied once per warp (one 8-byte copy per lane) and read
// by every lane after a __syncwarp. The warps are merged once.
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>
#include <type_traits>

#include "kernels/common/async_copy.cuh"
#include "kernels/common/kv_storage.cuh"
#include "kernels/common/launch_limits.h"
#include "kernels/common/online_softmax.cuh"
#include "kernels/common/warp_mma.cuh"
#include "kernels/decode/chunk_window.cuh"
#include "kernels/decode/decode_split.cuh"
#include "kernels/decode/decode_variants.cuh"

namespace unisparse::cuda {
namespace mma_decode {

constexpr int kWarps = limits::kDecodeWarps;
constexpr int kThreads = limits::kDecodeThreads;
constexpr int kTileTokens = 16;
// Four blocks share an SM (128 registers a thread, no tile data in registers while in flight). The
// 164 KB of shared memory of an sm_80 SM hold three int8 / fp8 rings, so there the cap is what three
// blocks allow (168 registers), which sm_80 code needs to stay clear of spills.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
constexpr int kMinBlocksPerSm = 3;
#else
constexpr int kMinBlocksPerSm = 4;
#endif
// Tiles of a warp's ring: int4 tiles are half the bytes of int8 / fp8 ones, so it keeps more of
// them in flight (about 2.3 KB against 4.3 KB a tile at head_dim 128; 36 KB and 51 KB a block).
template <class Storage>
constexpr int ring_stages() {
  return Storage::kBits == 4 ? 4 : 3;
}

// One stage of a warp's ring: the copies of one tile, laid out so that the lanes' reads of one
// field are consecutive (no bank conflicts): [what][unit][lane][unit bytes], units of at most 16
// bytes. key: the K rows of tokens row and row + 8 over the lane's quarter of the channels; value:
// the V rows of the lane's four tokens over its two sixteenths; params (int8 / int4): lane l < 16
// holds the key (scale, zero) of token l, lane 16 + l the value pair of token l.
template <class Storage, int kHeadDim>
struct alignas(16) TileSlot {
  static constexpr int kRowBytes = row_bytes<Storage>(kHeadDim);
  static constexpr int kKeySliceBytes = kRowBytes / 4;
  static constexpr int kValueSliceBytes = kRowBytes / 16;
  static constexpr int kKeyUnit = kKeySliceBytes < 16 ? kKeySliceBytes : 16;
  static constexpr int kKeyUnits = kKeySliceBytes / kKeyUnit;
  uint8_t key[2][kKeyUnits][32][kKeyUnit];
  uint8_t value[4][2][32][kValueSliceBytes];
  float2 params[Storage::kTokenParams ? 32 : 1];
};

// The warps' states and outputs for the block's merge, in the ring's bytes after the main loop
// (sized for the largest group).
template <int kHeadDim, int kGroup>
struct WarpStates {
  SoftmaxState state[kWarps][kGroup];
  float acc[kWarps][kGroup][kHeadDim];
};

template <class Storage, int kHeadDim>
constexpr int shared_bytes() {
  constexpr int ring = kWarps * ring_stages<Storage>() * int(sizeof(TileSlot<Storage, kHeadDim>));
  constexpr int merge = int(sizeof(WarpStates<kHeadDim, 8>));
  return ring > merge ? ring : merge;
}

// fp16 0x64XX is 1024 + XX for XX < 1024: bytes or nibbles placed under 0x64 and minus 1024 are the
// codes as exact fp16 integers.
constexpr uint32_t kMagicBytes = 0x64646464u;
__device__ __forceinline__ uint32_t minus_1024(uint32_t half2_bits) {
  const __half2 value = __hsub2(*reinterpret_cast<const __half2*>(&half2_bits), __half2(1024.0f, 1024.0f));
  return *reinterpret_cast<const uint32_t*>(&value);
}

// Two 8-bit codes (low byte first) -> half2 of their values (int8: the code; fp8: e4m3, exact).
template <class Storage>
__device__ __forceinline__ uint32_t byte_pair_to_half2(uint32_t pair) {
  if constexpr (Storage::kTokenParams) {
    return minus_1024(__byte_perm(pair, kMagicBytes, 0x4140));
  } else {
    const __half2_raw value = __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(pair & 0xffffu), __NV_E4M3);
    return uint32_t(value.x) | uint32_t(value.y) << 16;
  }
}
// Nibbles 0 and 4 of `bits` -> half2 of the two int4 codes.
__device__ __forceinline__ uint32_t nibble_pair_to_half2(uint32_t bits) {
  return minus_1024((bits & 0x000f000fu) | 0x64006400u);
}

// Channel (within the lane's key slice) of element e of k-step ks: e = 0, 1 are the low and high
// halves of b0, e = 2, 3 those of b1. 8-bit codes unpack in order; int4 words unpack nibbles
// (0, 4), (1, 5) for even steps and (2, 6), (3, 7) for odd ones.
template <class Storage>
__device__ __forceinline__ int key_channel(int ks, int e) {
  if constexpr (Storage::kBits == 4)
    return 8 * (ks / 2) + 2 * (ks % 2) + (e & 1) * 4 + (e >> 1);
  else
    return ks * 4 + e;
}

template <class Storage>
__device__ __forceinline__ void key_fragment(const uint32_t* words, int ks, uint32_t& b0, uint32_t& b1) {
  if constexpr (Storage::kBits == 4) {
    const uint32_t word = words[ks / 2];
    const int shift = 8 * (ks % 2);
    b0 = nibble_pair_to_half2(word >> shift);
    b1 = nibble_pair_to_half2(word >> (shift + 4));
  } else {
    b0 = byte_pair_to_half2<Storage>(words[ks] & 0xffffu);
    b1 = byte_pair_to_half2<Storage>(words[ks] >> 16);
  }
}

// Channel c of the lane's value slice for two tokens (first, second: the words holding c) -> half2.
template <class Storage>
__device__ __forceinline__ uint32_t value_pair(uint32_t first, uint32_t second, int c) {
  if constexpr (Storage::kBits == 4) {
    // Low half: first's channels 0-3 (or 4-7), high half: second's.
    const uint32_t both = __byte_perm(first, second, c % 8 < 4 ? 0x5410 : 0x7632);
    return nibble_pair_to_half2(both >> (4 * (c % 4)));
  } else {
    const uint32_t both = __byte_perm(first, second, c % 4 < 2 ? 0x5140 : 0x7362);  // f.b, s.b, f.b', s.b'
    return byte_pair_to_half2<Storage>(c % 2 ? both >> 16 : both & 0xffffu);
  }
}

template <int kBytes>
__device__ __forceinline__ void load_words(const uint8_t* source, uint32_t (&words)[(kBytes + 3) / 4]) {
  if constexpr (kBytes >= 16) {
#pragma unroll
    for (int i = 0; i < kBytes / 16; ++i) {
      const uint4 v = reinterpret_cast<const uint4*>(source)[i];
      words[4 * i] = v.x, words[4 * i + 1] = v.y, words[4 * i + 2] = v.z, words[4 * i + 3] = v.w;
    }
  } else if constexpr (kBytes == 8) {
    const uint2 v = *reinterpret_cast<const uint2*>(source);
    words[0] = v.x, words[1] = v.y;
  } else if constexpr (kBytes == 4) {
    words[0] = *reinterpret_cast<const uint32_t*>(source);
  } else {
    static_assert(kBytes == 2);  // int4 at head_dim 64: 4 channels of a V row
    words[0] = *reinterpret_cast<const uint16_t*>(source);
  }
}

// Token (within a tile) of the lane's i-th score / value row: 2 quad, 2 quad + 1, 2 quad + 8, + 9.
__device__ __forceinline__ int lane_token(int quad, int i) { return 2 * quad + (i & 1) + (i >> 1) * 8; }

}  // namespace mma_decode

template <class Storage, int kHeadDim, int kGroup, class Variant>
__global__ void __launch_bounds__(mma_decode::kThreads, mma_decode::kMinBlocksPerSm) decode_attention_mma_kernel(
    const __grid_constant__ DecodeAttentionParams p) {
  using namespace mma_decode;
  static_assert(kGroup <= 8, "the query group fills at most the 8 real rows of a lane quad");
  using Slot = TileSlot<Storage, kHeadDim>;
  constexpr bool kIntegerCodes = Storage::kTokenParams;
  constexpr int kStages = ring_stages<Storage>();
  constexpr int kKSteps = kHeadDim / 16;
  constexpr int kOutTiles = kHeadDim / 16;
  constexpr int kRowBytes = Slot::kRowBytes;
  constexpr int kKeySliceBytes = Slot::kKeySliceBytes;      // a lane's quarter of a K row
  constexpr int kValueSliceBytes = Slot::kValueSliceBytes;  // one of a lane's two sixteenths of a V row
  constexpr int kKeySliceChannels = kHeadDim / 4;
  constexpr int kValueSliceChannels = kHeadDim / 16;
  constexpr int kValueWords = (kValueSliceBytes + 3) / 4;
  constexpr int kValueChannelsPerWord = 32 / Storage::kBits;
  static_assert(kStages * 5 <= 32, "the valid counts of every stage fit one register");
  extern __shared__ __align__(16) unsigned char shared[];

  const DecodeWorkItem item = decode_work_item<kGroup>(p);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row = lane / 4, quad = lane % 4;
  const bool real_row = row < kGroup;
  Slot* const ring = reinterpret_cast<Slot*>(shared) + warp * kStages;  // this warp's stages

  // Q as the A operand (rows row and row + 8; the second is always padding), in fp16 as the mma
  // takes it, and its channel sum over the same rounded values for the zero-point term.
  uint32_t query_fragment[kKSteps][2];
  float query_sum = 0;
  {
    const float* query = p.query +
                         (int64_t(item.batch) * p.num_q_heads + item.first_q_head + min(row, kGroup - 1)) * kHeadDim +
                         quad * kKeySliceChannels;
#pragma unroll
    for (int ks = 0; ks < kKSteps; ++ks) {
      float element[4];
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        element[e] = real_row ? __half2float(__float2half_rn(query[key_channel<Storage>(ks, e)])) : 0.0f;
        query_sum += element[e];
      }
      query_fragment[ks][0] = ptx::pack_pair<__half>(element[0], element[1]);
      query_fragment[ks][1] = ptx::pack_pair<__half>(element[2], element[3]);
    }
    query_sum += __shfl_xor_sync(0xffffffffu, query_sum, 1);
    query_sum += __shfl_xor_sync(0xffffffffu, query_sum, 2);
  }

  TokenParams key_row{1.0f, 0.0f}, value_row{1.0f, 0.0f};
  if constexpr (Storage::kRowScale) {
    key_row.scale = p.maybe_key_row_scale[item.pool_row];
    value_row.scale = p.maybe_value_row_scale[item.pool_row];
  }
  // Online softmax of row `row` (log2 units). The sums cover this lane's tokens only and are added
  // over the quad at the end. Integer codes: the accumulator holds sum_t P''_t code_t with
  // P''_t = p_t * value_scale_t / unit, where unit is the largest value scale of the latest tile, so
  // that P'' lies in [0, 1] where fp16 keeps its precision; zero_term is sum_t P''_t zero_t alike.
  SoftmaxState state;
  float unit = 1.0f, zero_term = 0;
  float acc[kOutTiles][4] = {};  // O^T tiles: [m][0, 1] channel row, [m][2, 3] channel row + 8

  const auto* keys = static_cast<const uint8_t*>(p.keys);
  const auto* values = static_cast<const uint8_t*>(p.values);
  const SplitRange range = split_range(p, Variant::count(p, item.selection_row));
  ChunkWindow<Variant> window(p, p.page_indices + p.page_indptr[item.pool_row], item.selection_row,
                              range.first, range.last);

  // The warp's tiles: tile t of the split's chunks, in order, goes to warp t % kWarps.
  int chunk = range.first - 1, tile = 0, tiles = 0, tiles_before = 0;
  PoolSpan span{0, 0};
  const auto next_tile = [&]() -> bool {
    tile += kWarps;
    while (tile >= tiles) {
      tiles_before += tiles;
      if (++chunk >= range.last) return false;
      span = window.span(chunk);
      tiles = (span.length + kTileTokens - 1) / kTileTokens;
      tile = (warp - tiles_before % kWarps + kWarps) % kWarps;
    }
    return true;
  };

  // Producer: the copies of the warp's next tile into ring slot `slot`; missing tokens read as zero
  // codes with zero parameters. valid_counts keeps 5 bits per slot: tokens [0, valid) of the tile
  // exist.
  uint32_t valid_counts = 0;
  bool more_tiles = next_tile();
  const auto produce = [&](int slot) -> bool {
    if (!more_tiles) return false;
    const int valid = min(span.length - tile * kTileTokens, kTileTokens);
    const int64_t tile_token = int64_t(span.first_token) + tile * kTileTokens;
    Slot& into = ring[slot];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int t = half * 8 + row;
      const uint8_t* source = keys + (tile_token + (t < valid ? t : 0)) * kRowBytes + quad * kKeySliceBytes;
#pragma unroll
      for (int u = 0; u < Slot::kKeyUnits; ++u)
        copy_async<Slot::kKeyUnit>(into.key[half][u][lane], source + u * Slot::kKeyUnit, t < valid);
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int t = lane_token(quad, i);
      const uint8_t* value_row = values + (tile_token + (t < valid ? t : 0)) * kRowBytes;
      copy_async<kValueSliceBytes>(into.value[i][0][lane], value_row + row * kValueSliceBytes, t < valid);
      copy_async<kValueSliceBytes>(into.value[i][1][lane], value_row + (row + 8) * kValueSliceBytes, t < valid);
    }
    if constexpr (kIntegerCodes) {
      const int t = lane % 16;
      const float2* params = lane < 16 ? p.maybe_key_params : p.maybe_value_params;
      copy_async<8>(&into.params[lane], params + tile_token + (t < valid ? t : 0), t < valid);
    }
    valid_counts = (valid_counts & ~(31u << (5 * slot))) | uint32_t(valid) << (5 * slot);
    more_tiles = next_tile();
    return true;
  };

  // What the lane computes one tile from: K rows of tokens row, row + 8; V rows and
  // dequantization parameters of the lane's four tokens.
  struct TileLoads {
    int valid;
    uint32_t key_words[2][kKeySliceBytes / 4];
    uint32_t value_words[4][2][kValueWords];  // [token][slice row, row + 8]
    TokenParams key_params[4], value_params[4];
  };
  const auto read_tile = [&](int slot) {
    TileLoads loads;
    const Slot& from = ring[slot];
    loads.valid = (valid_counts >> (5 * slot)) & 31u;
#pragma unroll
    for (int half = 0; half < 2; ++half)
#pragma unroll
      for (int u = 0; u < Slot::kKeyUnits; ++u) {
        uint32_t words[(Slot::kKeyUnit + 3) / 4];
        load_words<Slot::kKeyUnit>(from.key[half][u][lane], words);
#pragma unroll
        for (int w = 0; w < (Slot::kKeyUnit + 3) / 4; ++w) loads.key_words[half][u * (Slot::kKeyUnit / 4) + w] = words[w];
      }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      load_words<kValueSliceBytes>(from.value[i][0][lane], loads.value_words[i][0]);
      load_words<kValueSliceBytes>(from.value[i][1][lane], loads.value_words[i][1]);
      loads.key_params[i] = loads.value_params[i] = {0.0f, 0.0f};
      if constexpr (kIntegerCodes) {
        loads.key_params[i] = as_token_params(from.params[lane_token(quad, i)]);
        loads.value_params[i] = as_token_params(from.params[16 + lane_token(quad, i)]);
      }
    }
    return loads;
  };

  // One commit per stage, empty or not, so that "all but the newest kStages - 1 groups done" always
  // means "the tile about to be computed has landed". The __syncwarp before a refill keeps a lane
  // from overwriting parameters another lane of the warp still reads; the one after the wait makes
  // every lane's copies of the tile visible to the whole warp.
  int produced = 0;
#pragma unroll
  for (int slot = 0; slot < kStages - 1; ++slot) {
    if (produce(slot)) ++produced;
    ptx::cp_async_commit();
  }
  for (int consumed = 0; consumed < produced; ++consumed) {
    __syncwarp();
    if (produce((consumed + kStages - 1) % kStages)) ++produced;
    ptx::cp_async_commit();
    ptx::cp_async_wait<kStages - 1>();
    __syncwarp();
    const TileLoads current = read_tile(consumed % kStages);

    // S = Q K^T over the two 8-token halves; the lane's token i is score[i / 2][i % 2].
    float score[2][4] = {};
#pragma unroll
    for (int half = 0; half < 2; ++half)
#pragma unroll
      for (int ks = 0; ks < kKSteps; ++ks) {
        uint32_t b0, b1;
        key_fragment<Storage>(current.key_words[half], ks, b0, b1);
        const uint32_t a[4] = {query_fragment[ks][0], 0u, query_fragment[ks][1], 0u};
        ptx::mma_16816<__half>(score[half], a, b0, b1);
      }
    float logit[4], tile_max = -INFINITY;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float dot = score[i / 2][i % 2];
      const TokenParams& key = current.key_params[i];
      const float scaled = kIntegerCodes ? key.scale * (dot - key.zero * query_sum) : key_row.scale * dot;
      logit[i] = lane_token(quad, i) < current.valid ? scaled * p.scale_log2 : -INFINITY;
      tile_max = fmaxf(tile_max, logit[i]);
    }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
    float rescale = state.raise_max(tile_max);  // finite: a tile holds a token; 0 for the first
    float weight[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      weight[i] = state.weight(logit[i]);
      state.sum += weight[i];
    }
    if constexpr (kIntegerCodes) {
      const TokenParams* value = current.value_params;
      float tile_unit = fmaxf(fmaxf(value[0].scale, value[1].scale), fmaxf(value[2].scale, value[3].scale));
      tile_unit = fmaxf(tile_unit, __shfl_xor_sync(0xffffffffu, tile_unit, 1));
      tile_unit = fmaxf(tile_unit, __shfl_xor_sync(0xffffffffu, tile_unit, 2));
      rescale *= unit / tile_unit;
      unit = tile_unit;
#pragma unroll
      for (int i = 0; i < 4; ++i) weight[i] *= value[i].scale / tile_unit;
    }
    // P^T as the B operand (column row), rounded to fp16 here so that the zero-point term uses
    // exactly what the mma multiplies.
    const uint32_t p0 = ptx::pack_pair<__half>(weight[0], weight[1]);
    const uint32_t p1 = ptx::pack_pair<__half>(weight[2], weight[3]);
    if constexpr (kIntegerCodes) {
      const TokenParams* value = current.value_params;
      const float2 low = __half22float2(*reinterpret_cast<const __half2*>(&p0));
      const float2 high = __half22float2(*reinterpret_cast<const __half2*>(&p1));
      zero_term = zero_term * rescale + low.x * value[0].zero + low.y * value[1].zero +
                  high.x * value[2].zero + high.y * value[3].zero;
    }
    // The accumulator's columns are query rows 2 quad and 2 quad + 1: their rescale factors.
    const float rescale_first = __shfl_sync(0xffffffffu, rescale, 8 * quad);
    const float rescale_second = __shfl_sync(0xffffffffu, rescale, 8 * quad + 4);
#pragma unroll
    for (int m = 0; m < kOutTiles; ++m) {
      acc[m][0] *= rescale_first;
      acc[m][1] *= rescale_second;
      acc[m][2] *= rescale_first;
      acc[m][3] *= rescale_second;
      const int word = m / kValueChannelsPerWord;
      const int c = m % kValueChannelsPerWord;
      const auto& v = current.value_words;
      const uint32_t a[4] = {value_pair<Storage>(v[0][0][word], v[1][0][word], c),   // row, tokens 2q, +1
                             value_pair<Storage>(v[0][1][word], v[1][1][word], c),   // row + 8
                             value_pair<Storage>(v[2][0][word], v[3][0][word], c),   // row, tokens +8, +9
                             value_pair<Storage>(v[2][1][word], v[3][1][word], c)};  // row + 8
      ptx::mma_16816<__half>(acc[m], a, p0, p1);
    }
  }

  // The quad's lanes hold different tokens of the same row: add their sums.
  state.sum += __shfl_xor_sync(0xffffffffu, state.sum, 1);
  state.sum += __shfl_xor_sync(0xffffffffu, state.sum, 2);
  zero_term += __shfl_xor_sync(0xffffffffu, zero_term, 1);
  zero_term += __shfl_xor_sync(0xffffffffu, zero_term, 2);
  ptx::cp_async_wait<0>();
  __syncthreads();  // the ring's bytes become the warps' states
  auto& warps = *reinterpret_cast<WarpStates<kHeadDim, kGroup>*>(shared);
  if (real_row && quad == 0) warps.state[warp][row] = state;
  // The lane's accumulators: queries 2 quad + e, channels row * kHeadDim / 16 + m (and row + 8).
  const float out_scale = kIntegerCodes ? unit : value_row.scale;  // unit is the same in every lane
#pragma unroll
  for (int e = 0; e < 2; ++e) {
    const int query = 2 * quad + e;
    const float query_zero_term = __shfl_sync(0xffffffffu, zero_term, 4 * query);
    if (query >= kGroup) continue;
#pragma unroll
    for (int m = 0; m < kOutTiles; ++m) {
      warps.acc[warp][query][row * kValueSliceChannels + m] = out_scale * (acc[m][e] - query_zero_term);
      warps.acc[warp][query][(row + 8) * kValueSliceChannels + m] = out_scale * (acc[m][2 + e] - query_zero_term);
    }
  }
  __syncthreads();
  write_split_partial<kWarps, kGroup, kHeadDim, kThreads>(p, item, warps.state, warps.acc);
}

}  // namespace unisparse::cuda
