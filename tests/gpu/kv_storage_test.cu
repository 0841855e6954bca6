// The GPU side of the quantized KV formats against the CPU's (framework/core/kv_quant.h): one warp
// stores each row with store_token_row (what the cache's prefill write and decode append run), the
// lanes read it back with a reference reader (dequantize8, one element at a time), and the codes,
// the (scale, zero) pairs and every dequantized value must equal the CPU's bit for bit. The rows cover
// the edge cases of each format: constant rows (zero and not), all-positive and all-negative rows,
// wide and tiny ranges, fp8 values that saturate, round to subnormals or sit at rounding ties.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <type_traits>
#include <vector>

#include "framework/core/kv_quant.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/device_buffer.h"
#include "kernels/common/kv_storage.cuh"
#include "tests/gpu/gpu_test_util.h"

namespace unisparse {
namespace {

using cuda::DeviceBuffer;

// The reference reader of the stored formats: eight channels of one token row, widened to fp32 and
// dequantized one by one.
template <class Storage>
__device__ __forceinline__ void dequantize8(const typename Storage::Raw& raw, cuda::TokenParams params,
                                            float (&out)[8]) {
  if constexpr (std::is_same_v<Storage, cuda::Fp8Storage>) {
    const uint32_t words[2] = {raw.x, raw.y};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const __half2_raw pair = __nv_cvt_fp8x2_to_halfraw2(
          static_cast<__nv_fp8x2_storage_t>(words[i / 2] >> (16 * (i % 2))), __NV_E4M3);
      out[2 * i] = __half2float(__half(__half_raw{pair.x})) * params.scale;
      out[2 * i + 1] = __half2float(__half(__half_raw{pair.y})) * params.scale;
    }
  } else {
    // (code - zero) is exact in fp32 and the product rounds once, as the CPU's double product
    // rounded to float does.
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      uint32_t code;
      if constexpr (Storage::kBits == 8)
        code = ((j < 4 ? raw.x : raw.y) >> (8 * (j % 4))) & 0xffu;
      else
        code = (raw >> (4 * j)) & 0xfu;
      out[j] = (float(code) - params.zero) * params.scale;
    }
  }
}

// grid (rows), block 32: row r of source [rows, head_dim] -> stored [rows, row_bytes] + params
// [rows] -> dequantized [rows, head_dim].
template <class Storage>
__global__ void round_trip_kernel(const float* source, int head_dim, float row_scale, uint8_t* stored,
                                  float2* params, float* dequantized) {
  const int row = blockIdx.x, lane = threadIdx.x;
  const int bytes = cuda::row_bytes<Storage>(head_dim);
  uint8_t* stored_row = stored + int64_t(row) * bytes;
  cuda::store_token_row<Storage>(source + int64_t(row) * head_dim, head_dim, stored_row, params + row,
                                 row_scale, lane);
  __syncwarp();
  const cuda::TokenParams token = Storage::kRowScale ? cuda::TokenParams{row_scale, 0.0f}
                                                     : cuda::as_token_params(params[row]);
  for (int first = lane * 8; first < head_dim; first += 32 * 8) {
    const auto raw = *reinterpret_cast<const typename Storage::Raw*>(stored_row + first * Storage::kBits / 8);
    float out[8];
    dequantize8<Storage>(raw, token, out);
    for (int j = 0; j < 8; ++j) dequantized[int64_t(row) * head_dim + first + j] = out[j];
  }
}

struct RoundTrip {
  std::vector<uint8_t> stored;
  std::vector<float2> params;
  std::vector<float> dequantized;
};

template <class Storage>
RoundTrip round_trip_on_gpu(const std::vector<float>& rows, int head_dim, float row_scale) {
  const int count = static_cast<int>(rows.size() / head_dim);
  DeviceBuffer<float> source;
  source.upload(rows);
  DeviceBuffer<uint8_t> stored(size_t(count) * cuda::row_bytes<Storage>(head_dim));
  DeviceBuffer<float2> params(count);
  DeviceBuffer<float> dequantized(rows.size());
  round_trip_kernel<Storage><<<count, 32>>>(source.data(), head_dim, row_scale, stored.data(),
                                            params.data(), dequantized.data());
  UNISPARSE_CUDA_CHECK_LAUNCH();
  UNISPARSE_CUDA_CHECK(cudaDeviceSynchronize());
  return {stored.download(), params.download(), dequantized.download()};
}

// Rows [count, head_dim] with the edge cases first, then Gaussian rows of several magnitudes.
std::vector<float> test_rows(int head_dim, int gaussian_rows) {
  std::vector<float> rows;
  auto add_row = [&](auto value_of) {
    for (int c = 0; c < head_dim; ++c) rows.push_back(value_of(c));
  };
  add_row([](int) { return 0.0f; });
  add_row([](int) { return 0.75f; });
  add_row([](int) { return -3.0f; });
  add_row([](int c) { return 100.0f + c * 1e-3f; });            // all positive, narrow: large zero
  add_row([](int c) { return -5.0f - c * 0.5f; });              // all negative
  add_row([](int c) { return (c % 2 ? 1.0f : -1.0f) * 1e-6f; });  // tiny range
  add_row([](int c) { return c == 3 ? 1000.0f : 0.01f * c; });  // one outlier
  std::mt19937 random(7);
  std::normal_distribution<float> normal;
  for (int r = 0; r < gaussian_rows; ++r) {
    const float magnitude = std::ldexp(1.0f, r % 9 - 4);
    add_row([&](int) { return magnitude * normal(random); });
  }
  return rows;
}

class KvStorageRoundTrip : public ::testing::TestWithParam<int> {};

TEST_P(KvStorageRoundTrip, Int8AndInt4MatchTheCpuBitForBit) {
  UNISPARSE_SKIP_WITHOUT_GPU();
  const int head_dim = GetParam();
  const std::vector<float> rows = test_rows(head_dim, 64);
  const int count = static_cast<int>(rows.size() / head_dim);
  for (DType format : {DType::int8, DType::int4}) {
    const RoundTrip gpu = format == DType::int8 ? round_trip_on_gpu<cuda::Int8Storage>(rows, head_dim, 1)
                                                : round_trip_on_gpu<cuda::Int4Storage>(rows, head_dim, 1);
    const int bytes = format == DType::int8 ? head_dim : head_dim / 2;
    for (int r = 0; r < count; ++r) {
      const std::span<const float> row(rows.data() + int64_t(r) * head_dim, head_dim);
      const QuantizedRow cpu = quantize_row(row, format, 1.0f);
      SCOPED_TRACE(std::string(to_string(format)) + " row " + std::to_string(r));
      ASSERT_EQ(gpu.params[r].x, cpu.scale);
      ASSERT_EQ(gpu.params[r].y, cpu.zero);
      ASSERT_EQ(0, std::memcmp(gpu.stored.data() + int64_t(r) * bytes, cpu.codes.data(), bytes));
      std::vector<float> expected(head_dim);
      dequantize_row(cpu, format, expected);
      for (int c = 0; c < head_dim; ++c)
        ASSERT_EQ(gpu.dequantized[int64_t(r) * head_dim + c], expected[c]) << "channel " << c;
    }
  }
}

TEST_P(KvStorageRoundTrip, Fp8MatchesTheCpuBitForBit) {
  UNISPARSE_SKIP_WITHOUT_GPU();
  const int head_dim = GetParam();
  std::vector<float> rows = test_rows(head_dim, 64);
  // Values at e4m3 rounding ties, on both sides of the subnormal boundary and past saturation.
  for (float x : {0.0f, 0x1p-10f, 0x1.8p-9f, 0x1p-7f, 0x1.1p-6f, 1.0625f, 1.1875f, 240.0f, 440.0f, 464.0f,
                  470.0f, 1e6f})
    for (float sign : {1.0f, -1.0f}) rows.push_back(sign * x);
  rows.resize((rows.size() + head_dim - 1) / head_dim * head_dim, 0.5f);
  const int count = static_cast<int>(rows.size() / head_dim);
  for (float row_scale : {1.0f, e4m3_scale(rows), 0.37f}) {
    const RoundTrip gpu = round_trip_on_gpu<cuda::Fp8Storage>(rows, head_dim, row_scale);
    for (int r = 0; r < count; ++r) {
      const std::span<const float> row(rows.data() + int64_t(r) * head_dim, head_dim);
      const QuantizedRow cpu = quantize_row(row, DType::fp8, row_scale);
      SCOPED_TRACE("scale " + std::to_string(row_scale) + " row " + std::to_string(r));
      ASSERT_EQ(0, std::memcmp(gpu.stored.data() + int64_t(r) * head_dim, cpu.codes.data(), head_dim));
      std::vector<float> expected(head_dim);
      dequantize_row(cpu, DType::fp8, expected);
      for (int c = 0; c < head_dim; ++c)
        ASSERT_EQ(gpu.dequantized[int64_t(r) * head_dim + c], expected[c]) << "channel " << c;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(HeadDims, KvStorageRoundTrip, ::testing::Values(8, 64, 128, 256),
                         [](const auto& info) { return "d" + std::to_string(info.param); });

}  // namespace
}  // namespace unisparse
