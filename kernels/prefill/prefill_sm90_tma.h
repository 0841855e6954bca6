#pragma once
// How the sm_90a prefill describes Q, K and V to the TMA unit: each is a [batch, heads, seq_len,
// head_dim] tensor of 16-bit elements with int64 element strides (PrefillParams), seen as a 4-d tensor
// (innermost first: head dim, token, head, sequence) whose box is one tile of 64 columns (one 128-byte
// swizzled panel) by `box_rows` tokens. Rows past seq_len are outside the tensor, so the TMA unit
// fills them with zeros: a partial last tile needs no special case. The host tests check this
// arithmetic; encode_tma_tile_map hands it to the driver (cuTensorMapEncodeTiled, obtained through
// the runtime's driver entry point so that nothing links libcuda at build time).
#include <cuda.h>

#include <array>
#include <cstdint>
#include <string>

#include "kernels/prefill/prefill_params.h"

namespace unisparse::cuda {

// One 16-bit tensor as PrefillParams describes it.
struct PrefillTensorLayout {
  const void* base = nullptr;
  int64_t row_stride = 0, head_stride = 0, batch_stride = 0;  // elements
  int head_dim = 0, seq_len = 0, heads = 0, batch = 0;
};

struct TmaTileView {
  std::array<uint64_t, 4> dims{};     // elements: head_dim, seq_len, heads, batch
  std::array<uint64_t, 3> strides{};  // bytes between consecutive indices of dims 1, 2, 3
  std::array<uint32_t, 4> box{};      // elements: 64 columns, box_rows tokens, 1 head, 1 sequence
};

// Why TMA cannot describe `layout` with boxes of `box_rows` rows; empty when it can (base and strides
// multiples of 16 bytes, strides below 2^40, a head dim of whole 64-column panels, 1..256 box rows).
std::string tma_unsupported_reason(const PrefillTensorLayout& layout, int box_rows);
// The view of a layout tma_unsupported_reason accepts (std::invalid_argument otherwise).
TmaTileView tma_tile_view(const PrefillTensorLayout& layout, int box_rows);

// Q, K and V of a prefill launch.
struct PrefillTensorLayouts {
  PrefillTensorLayout q, k, v;
};
PrefillTensorLayouts prefill_tensor_layouts(const PrefillParams& params, int head_dim, int batch);
// Why the sm_90a prefill cannot describe a launch's Q (boxes of block_size rows), K and V (boxes of
// block_size keys) to TMA, naming the tensor; empty when it can.
std::string prefill_tma_unsupported_reason(const PrefillParams& params, int head_dim, int batch);

// The driver's tensor map of a view: 128-byte swizzle, zero fill out of bounds, 256-byte L2
// promotion. Throws std::runtime_error naming the driver's error.
CUtensorMap encode_tma_tile_map(const TmaTileView& view, const void* base, bool bf16);

}  // namespace unisparse::cuda
