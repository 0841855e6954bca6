// How the sm_90a prefill describes Q, K and V to TMA (the part before the driver call): dims, byte
// strides and boxes of the 4-d view, and every layout TMA cannot take rejected with a reason that
// names the tensor and the problem.
#include "kernels/prefill/prefill_sm90_tma.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace unisparse::cuda {
namespace {

// A 256-byte aligned stand-in address; nothing is dereferenced.
const void* aligned_base() { return reinterpret_cast<const void*>(uintptr_t{1} << 20); }

PrefillParams packed_params(int num_q_heads, int group_size, int seq_len, int head_dim,
                            int block_size) {
  PrefillParams params{};
  params.q = params.k = params.v = aligned_base();
  const int num_kv_heads = num_q_heads / group_size;
  params.q_row_stride = params.kv_row_stride = params.out_row_stride = head_dim;
  params.q_head_stride = params.kv_head_stride = params.out_head_stride = int64_t{seq_len} * head_dim;
  params.q_batch_stride = params.out_batch_stride = int64_t{num_q_heads} * seq_len * head_dim;
  params.kv_batch_stride = int64_t{num_kv_heads} * seq_len * head_dim;
  params.seq_len = seq_len;
  params.num_q_heads = num_q_heads;
  params.group_size = group_size;
  params.block_size = block_size;
  return params;
}

TEST(PrefillTma, Llama3LayerViews) {
  // 32 query / 8 KV heads, d128, 32k tokens, batch 2, block 128.
  const PrefillParams params = packed_params(32, 4, 32768, 128, 128);
  const PrefillTensorLayouts layouts = prefill_tensor_layouts(params, 128, 2);
  EXPECT_EQ(layouts.q.heads, 32);
  EXPECT_EQ(layouts.k.heads, 8);
  EXPECT_EQ(layouts.v.heads, 8);
  EXPECT_EQ(prefill_tma_unsupported_reason(params, 128, 2), "");

  const TmaTileView q = tma_tile_view(layouts.q, 128);
  EXPECT_EQ(q.dims, (std::array<uint64_t, 4>{128, 32768, 32, 2}));
  EXPECT_EQ(q.strides, (std::array<uint64_t, 3>{256, 256ull * 32768, 256ull * 32768 * 32}));
  EXPECT_EQ(q.box, (std::array<uint32_t, 4>{64, 128, 1, 1}));
  const TmaTileView k = tma_tile_view(layouts.k, 128);
  EXPECT_EQ(k.dims, (std::array<uint64_t, 4>{128, 32768, 8, 2}));
  EXPECT_EQ(k.strides[2], 256ull * 32768 * 8);
}

TEST(PrefillTma, HeadDim64IsOnePanel) {
  const PrefillParams params = packed_params(6, 3, 4099, 64, 64);
  const TmaTileView v = tma_tile_view(prefill_tensor_layouts(params, 64, 1).v, 64);
  EXPECT_EQ(v.dims, (std::array<uint64_t, 4>{64, 4099, 2, 1}));
  EXPECT_EQ(v.strides[0], 128u);
  EXPECT_EQ(v.box, (std::array<uint32_t, 4>{64, 64, 1, 1}));
}

TEST(PrefillTma, LayoutsTmaCannotTakeAreNamed) {
  PrefillTensorLayout good{aligned_base(), 128, 128 * 1000, 128 * 1000 * 4, 128, 1000, 4, 1};
  EXPECT_EQ(tma_unsupported_reason(good, 128), "");
  const auto reason = [&](auto change, int box_rows = 128) {
    PrefillTensorLayout layout = good;
    change(layout);
    return tma_unsupported_reason(layout, box_rows);
  };
  EXPECT_NE(reason([](auto& l) { l.base = static_cast<const char*>(aligned_base()) + 8; }).find("16-byte aligned"),
            std::string::npos);
  EXPECT_NE(reason([](auto& l) { l.row_stride = 132; }).find("row stride"), std::string::npos);
  EXPECT_NE(reason([](auto& l) { l.head_stride = 128 * 1000 + 4; }).find("head stride"), std::string::npos);
  EXPECT_NE(reason([](auto& l) { l.batch_stride = int64_t{1} << 40; }).find("batch stride"),
            std::string::npos);
  EXPECT_NE(reason([](auto& l) { l.head_dim = 96; }).find("multiple of 64"), std::string::npos);
  EXPECT_NE(reason([](auto& l) { l.row_stride = 64; }).find("overlap"), std::string::npos);
  EXPECT_NE(reason([](auto&) {}, 512).find("1..256"), std::string::npos);
  EXPECT_NE(reason([](auto& l) { l.seq_len = 0; }).find("empty"), std::string::npos);
  EXPECT_THROW(tma_tile_view([&] { auto l = good; l.row_stride = 132; return l; }(), 128),
               std::invalid_argument);
}

TEST(PrefillTma, TheLaunchReasonNamesTheTensor) {
  PrefillParams params = packed_params(4, 1, 300, 128, 64);
  params.v = static_cast<const char*>(aligned_base()) + 4;
  const std::string reason = prefill_tma_unsupported_reason(params, 128, 1);
  EXPECT_EQ(reason.rfind("V: ", 0), 0u) << reason;
  params.v = aligned_base();
  params.kv_row_stride = 136;  // 272 bytes: a multiple of 16, rows padded
  EXPECT_EQ(prefill_tma_unsupported_reason(params, 128, 1), "");
  params.q_row_stride = 129;
  EXPECT_EQ(prefill_tma_unsupported_reason(params, 128, 1).rfind("Q: ", 0), 0u);
}

}  // namespace
}  // namespace unisparse::cuda
