#include "kernels/prefill/prefill_sm90_tma.h"

#include <cuda_runtime.h>
#include <cudaTypedefs.h>

#include <stdexcept>
#include <string>

#include "kernels/common/sm90_smem_descriptor.h"

namespace unisparse::cuda {
namespace {

constexpr int64_t kElementBytes = 2;
constexpr int64_t kTmaAlignment = 16;           // bytes: global address and every stride
constexpr int64_t kTmaStrideLimit = int64_t{1} << 40;
constexpr int kTmaBoxLimit = 256;

std::string check_stride(const char* name, int64_t elements) {
  const int64_t bytes = elements * kElementBytes;
  if (elements <= 0 || bytes % kTmaAlignment != 0 || bytes >= kTmaStrideLimit)
    return std::string(name) + " stride of " + std::to_string(elements) +
           " elements is not a positive multiple of 16 bytes below 2^40";
  return "";
}

}  // namespace

std::string tma_unsupported_reason(const PrefillTensorLayout& layout, int box_rows) {
  if (reinterpret_cast<uintptr_t>(layout.base) % kTmaAlignment != 0)
    return "tensor base is not 16-byte aligned";
  if (layout.head_dim <= 0 || layout.head_dim % sm90::kSwizzlePanelColumns != 0)
    return "head_dim " + std::to_string(layout.head_dim) + " is not a multiple of 64";
  if (layout.seq_len <= 0 || layout.heads <= 0 || layout.batch <= 0)
    return "empty tensor";
  if (box_rows <= 0 || box_rows > kTmaBoxLimit)
    return "box of " + std::to_string(box_rows) + " rows is outside 1..256";
  for (const auto& [name, stride] : {std::pair{"row", layout.row_stride},
                                     std::pair{"head", layout.head_stride},
                                     std::pair{"batch", layout.batch_stride}})
    if (std::string reason = check_stride(name, stride); !reason.empty()) return reason;
  if (layout.row_stride < layout.head_dim) return "rows overlap (row stride below head_dim)";
  return "";
}

TmaTileView tma_tile_view(const PrefillTensorLayout& layout, int box_rows) {
  if (const std::string reason = tma_unsupported_reason(layout, box_rows); !reason.empty())
    throw std::invalid_argument("TMA view: " + reason);
  TmaTileView view;
  view.dims = {uint64_t(layout.head_dim), uint64_t(layout.seq_len), uint64_t(layout.heads),
               uint64_t(layout.batch)};
  view.strides = {uint64_t(layout.row_stride * kElementBytes),
                  uint64_t(layout.head_stride * kElementBytes),
                  uint64_t(layout.batch_stride * kElementBytes)};
  view.box = {uint32_t(sm90::kSwizzlePanelColumns), uint32_t(box_rows), 1, 1};
  return view;
}

PrefillTensorLayouts prefill_tensor_layouts(const PrefillParams& params, int head_dim, int batch) {
  const int num_kv_heads = params.group_size > 0 ? params.num_q_heads / params.group_size : 0;
  PrefillTensorLayouts layouts;
  layouts.q = {params.q, params.q_row_stride, params.q_head_stride, params.q_batch_stride,
               head_dim, params.seq_len, params.num_q_heads, batch};
  layouts.k = {params.k, params.kv_row_stride, params.kv_head_stride, params.kv_batch_stride,
               head_dim, params.seq_len, num_kv_heads, batch};
  layouts.v = layouts.k;
  layouts.v.base = params.v;
  return layouts;
}

std::string prefill_tma_unsupported_reason(const PrefillParams& params, int head_dim, int batch) {
  const PrefillTensorLayouts layouts = prefill_tensor_layouts(params, head_dim, batch);
  for (const auto& [name, layout] : {std::pair{"Q", &layouts.q}, std::pair{"K", &layouts.k},
                                     std::pair{"V", &layouts.v}})
    if (std::string reason = tma_unsupported_reason(*layout, params.block_size); !reason.empty())
      return std::string(name) + ": " + reason;
  return "";
}

CUtensorMap encode_tma_tile_map(const TmaTileView& view, const void* base, bool bf16) {
  static const PFN_cuTensorMapEncodeTiled_v12000 encode = [] {
    void* function = nullptr;
    cudaDriverEntryPointQueryResult found{};
    const cudaError_t status = cudaGetDriverEntryPointByVersion(
        "cuTensorMapEncodeTiled", &function, 12000, cudaEnableDefault, &found);
    if (status != cudaSuccess || found != cudaDriverEntryPointSuccess || function == nullptr)
      throw std::runtime_error("cuTensorMapEncodeTiled is not available from the driver: " +
                               std::string(cudaGetErrorString(status)));
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(function);
  }();
  CUtensorMap map;
  const cuuint32_t element_strides[4] = {1, 1, 1, 1};
  const CUresult result = encode(
      &map, bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 4,
      const_cast<void*>(base), view.dims.data(), view.strides.data(), view.box.data(),
      element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
      CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (result != CUDA_SUCCESS)
    throw std::runtime_error("cuTensorMapEncodeTiled failed with CUresult " +
                             std::to_string(int(result)));
  return map;
}

}  // namespace unisparse::cuda
