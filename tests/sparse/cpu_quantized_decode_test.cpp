// The CPU decode over a quantized KV cache: attention reads quantize -> dequantize K/V, while the key
// statistics (and so the page selections) come from the keys before quantization.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "framework/core/kv_quant.h"
#include "framework/sparse/cpu_backend.h"
#include "framework/sparse/cpu_decode.h"
#include "tests/common/random_workload.h"

namespace unisparse {
namespace {

// ||got - expected|| / ||expected|| over every output of every sequence.
double relative_l2(const std::vector<Tensor>& got, const std::vector<Tensor>& expected) {
  double error = 0.0, norm = 0.0;
  for (size_t b = 0; b < expected.size(); ++b)
    for (int64_t i = 0; i < expected[b].size(); ++i) {
      const double difference = double{got[b].data()[i]} - expected[b].data()[i];
      if (!std::isfinite(difference)) return INFINITY;
      error += difference * difference;
      norm += double{expected[b].data()[i]} * expected[b].data()[i];
    }
  return std::sqrt(error / norm);
}

DecodePlan selection_plan(const Workload& w, DType kv_storage) {
  DecodePlan plan;
  plan.mode = SparsityMode::static_dynamic;
  plan.heads = HeadLayout::with_streaming_fraction(w.shape.num_kv_heads, 0.34, 5, 9);
  plan.geometry = {8, 4};
  plan.policy = {24, 2, GqaSelection::per_query_head};
  plan.kv_storage = kv_storage;
  return plan;
}

// Odd sizes: head_dim 13 leaves a padding nibble per int4 row, 101 prefill tokens, pages of 8.
Workload odd_workload() { return testing::random_workload({6, 3, 13}, 101, 7, 2, 77); }

TEST(CpuQuantizedDecode, ErrorGrowsAsTheFormatNarrowsAndStaysBounded) {
  const Workload w = odd_workload();
  DecodePlan plan = selection_plan(w, DType::fp32);
  plan.mode = SparsityMode::dense;
  const CpuDecodeResult exact = cpu_decode(w, plan);
  double error[3];
  const DType formats[3] = {DType::int8, DType::fp8, DType::int4};
  for (int i = 0; i < 3; ++i) {
    plan.kv_storage = formats[i];
    error[i] = relative_l2(cpu_decode(w, plan).out, exact.out);
  }
  EXPECT_GT(error[0], 0.0);  // int8 changes the output ...
  EXPECT_LT(error[0], 2e-2);  // ... by little
  EXPECT_LT(error[1], 8e-2);  // fp8: 3 mantissa bits
  EXPECT_GT(error[2], error[0]) << "int4 " << error[2] << " int8 " << error[0];
  EXPECT_LT(error[2], 0.3);   // int4: 15 levels per row
}

TEST(CpuQuantizedDecode, PageSelectionsReadTheUnquantizedKeys) {
  const Workload w = odd_workload();
  const CpuDecodeResult exact = cpu_decode(w, selection_plan(w, DType::fp32));
  for (DType format : {DType::int8, DType::int4, DType::fp8}) {
    const CpuDecodeResult quantized = cpu_decode(w, selection_plan(w, format));
    EXPECT_EQ(quantized.selections, exact.selections) << to_string(format);
  }
  // The check above can fail: statistics over int4 keys select other pages somewhere.
  const Workload int4_keys = kv_as_stored(w, DType::int4);
  EXPECT_NE(cpu_decode(int4_keys, selection_plan(w, DType::fp32)).selections, exact.selections);
}

TEST(CpuQuantizedDecode, StoredRowsAreTheQuantizeDequantizeImage) {
  Workload w = odd_workload();
  const int d = w.shape.head_dim;
  // A decode value far beyond every prefill value of its head saturates under fp8's per-head scale.
  w.batch[1].v_decode.at({3, 2, 5}) = 1e4f;
  const Workload fp8 = kv_as_stored(w, DType::fp8);
  const Tensor& prefill_v = w.batch[1].v;
  const float scale = e4m3_scale({prefill_v.row({2}), static_cast<size_t>(w.context_len * d)});
  EXPECT_FLOAT_EQ(fp8.batch[1].v_decode.at({3, 2, 5}), kE4m3Max * scale);

  for (DType format : {DType::int8, DType::int4}) {
    const Workload stored = kv_as_stored(w, format);
    std::vector<float> expected(d);
    for (int token : {0, 57, 100, 101, 107}) {  // prefill and decode tokens
      quantize_dequantize_row({w.key(1, 2, token), size_t(d)}, format, 1.0f, expected);
      for (int i = 0; i < d; ++i)
        ASSERT_EQ(stored.key(1, 2, token)[i], expected[i]) << to_string(format) << " token " << token;
    }
    EXPECT_EQ(stored.batch[0].q_decode.storage(), w.batch[0].q_decode.storage());
  }
  EXPECT_THROW(kv_as_stored(w, DType::fp16), std::invalid_argument);
}

TEST(CpuQuantizedDecode, BackendMatchesTheDecodePass) {
  const Workload w = odd_workload();
  const DecodePlan plan = selection_plan(w, DType::int4);
  RunOptions options;
  options.timing.warmup = 0;
  options.timing.min_iters = 2;
  const DecodeRun run = make_cpu_backend()->decode(w, plan, options);
  const CpuDecodeResult pass = cpu_decode(w, plan);
  EXPECT_EQ(run.selections, pass.selections);
  for (int b = 0; b < w.batch_size(); ++b) EXPECT_EQ(run.out[b].storage(), pass.out[b].storage());
  EXPECT_EQ(run.times.iterations, 2);
}

}  // namespace
}  // namespace unisparse
