#include "framework/core/kv_quant.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

namespace unisparse {
namespace {

std::vector<float> random_row(std::mt19937_64& generator, int channels, float offset, float stddev) {
  std::normal_distribution<float> normal(offset, stddev);
  std::vector<float> row(channels);
  for (float& x : row) x = normal(generator);
  return row;
}

TEST(KvQuant, Int4PacksTheEvenChannelInTheLowNibble) {
  // min 0, max 15: scale 1, zero 0, so the codes are the values themselves.
  const std::vector<float> row = {3, 12, 0, 15, 7};
  const QuantizedRow packed = quantize_row(row, DType::int4, 1.0f);
  EXPECT_EQ(packed.scale, 1.0f);
  EXPECT_EQ(packed.zero, 0.0f);
  ASSERT_EQ(packed.codes.size(), 3u);  // odd channel count: the last high nibble is padding
  EXPECT_EQ(packed.codes[0], 0xc3);
  EXPECT_EQ(packed.codes[1], 0xf0);
  EXPECT_EQ(packed.codes[2], 0x07);
  std::vector<float> restored(row.size());
  dequantize_row(packed, DType::int4, restored);
  EXPECT_EQ(restored, row);
}

TEST(KvQuant, DequantizeRejectsCodesOfAnotherLength) {
  const std::vector<float> row(7, 0.5f);
  const QuantizedRow packed = quantize_row(row, DType::int4, 1.0f);
  std::vector<float> too_long(9);
  EXPECT_THROW(dequantize_row(packed, DType::int4, too_long), std::invalid_argument);
  EXPECT_THROW(quantize_row(row, DType::fp16, 1.0f), std::invalid_argument);
  EXPECT_THROW(quantize_row(row, DType::fp8, 0.0f), std::invalid_argument);
}

TEST(KvQuant, ConstantRowsRoundTripExactly) {
  for (DType format : {DType::int8, DType::int4})
    for (float c : {0.0f, 2.75f, -1234.5f, 1e-30f}) {
      const std::vector<float> row(5, c);
      std::vector<float> restored(5, NAN);
      quantize_dequantize_row(row, format, 1.0f, restored);
      EXPECT_EQ(restored, row) << to_string(format) << " constant " << c;
    }
}

// |x - x'| <= scale / 2 on rows of odd lengths, centred and far from 0, narrow and wide.
TEST(KvQuant, IntegerFormatsErrIsAtMostHalfAStep) {
  std::mt19937_64 generator(2024);
  for (DType format : {DType::int8, DType::int4})
    for (int channels : {1, 2, 7, 64, 129})
      for (float offset : {0.0f, 5.0f, -300.0f})
        for (float stddev : {1e-3f, 1.0f, 40.0f}) {
          const std::vector<float> row = random_row(generator, channels, offset, stddev);
          const QuantizedRow quantized = quantize_row(row, format, 1.0f);
          const float levels = format == DType::int8 ? 255.0f : 15.0f;
          const auto [min, max] = std::ranges::minmax(row);
          if (channels > 1) {
            EXPECT_LE(quantized.scale, (max - min) / levels * (1 + 1e-6f));
          }
          std::vector<float> restored(channels);
          dequantize_row(quantized, format, restored);
          for (int i = 0; i < channels; ++i)
            ASSERT_LE(std::abs(restored[i] - row[i]),
                      quantized.scale / 2 * (1 + 1e-5f) + std::abs(row[i]) * 1e-6f)
                << to_string(format) << " channel " << i << " of " << channels << " offset "
                << offset << " stddev " << stddev;
        }
}

TEST(KvQuant, Int8RowUsesTheFullCodeRange) {
  std::mt19937_64 generator(5);
  const std::vector<float> row = random_row(generator, 33, 0.0f, 1.0f);
  const QuantizedRow quantized = quantize_row(row, DType::int8, 1.0f);
  EXPECT_EQ(*std::ranges::min_element(quantized.codes), 0);
  EXPECT_EQ(*std::ranges::max_element(quantized.codes), 255);
}

TEST(KvQuant, E4m3EveryCodeRoundTripsExceptNan) {
  for (int code = 0; code < 256; ++code) {
    const float value = e4m3_to_float(static_cast<uint8_t>(code));
    if ((code & 0x7f) == 0x7f) {
      EXPECT_TRUE(std::isnan(value)) << "code " << code;
      continue;
    }
    ASSERT_FALSE(std::isnan(value)) << "code " << code;
    EXPECT_EQ(float_to_e4m3(value), code) << "code " << code << " value " << value;
  }
}

TEST(KvQuant, E4m3KnownValuesRoundingAndSaturation) {
  EXPECT_EQ(e4m3_to_float(0x7e), 448.0f);
  EXPECT_EQ(e4m3_to_float(0x01), 0x1p-9f);  // smallest subnormal
  EXPECT_EQ(e4m3_to_float(0x08), 0x1p-6f);  // smallest normal
  EXPECT_EQ(e4m3_to_float(0x38), 1.0f);
  EXPECT_EQ(float_to_e4m3(1.0625f), 0x38);  // halfway between 1 and 1.125: to even (1)
  EXPECT_EQ(float_to_e4m3(1.1875f), 0x3a);  // halfway between 1.125 and 1.25: to even (1.25)
  EXPECT_EQ(float_to_e4m3(0.75f * 0x1p-9f), 0x01);  // subnormals round to multiples of 2^-9
  EXPECT_EQ(float_to_e4m3(0x1p-10f), 0x00);  // halfway between 0 and 2^-9: to even (0)
  EXPECT_EQ(float_to_e4m3(460.0f), 0x7e);
  EXPECT_EQ(float_to_e4m3(470.0f), 0x7e);
  EXPECT_EQ(float_to_e4m3(-1e30f), 0xfe);
  EXPECT_EQ(float_to_e4m3(INFINITY), 0x7e);
  EXPECT_EQ(float_to_e4m3(-0.0f), 0x80);
  EXPECT_EQ(float_to_e4m3(NAN) & 0x7f, 0x7f);
}

TEST(KvQuant, Fp8RelativeErrorOfNormalsAndSaturation) {
  std::mt19937_64 generator(99);
  const std::vector<float> row = random_row(generator, 1001, 0.0f, 3.0f);
  const float scale = e4m3_scale(row);
  std::vector<float> restored(row.size());
  quantize_dequantize_row(row, DType::fp8, scale, restored);
  int normals = 0;
  for (size_t i = 0; i < row.size(); ++i) {
    ASSERT_LE(std::abs(restored[i]), kE4m3Max * scale * (1 + 1e-6f));
    if (std::abs(row[i] / scale) < 0x1p-6f) continue;  // subnormal: absolute error 2^-10 * scale
    ++normals;
    ASSERT_LE(std::abs(restored[i] - row[i]), 0x1p-4f * std::abs(row[i]) * (1 + 1e-5f))
        << "channel " << i << " value " << row[i];
  }
  EXPECT_GT(normals, 900);
  // A later value beyond the scale's range saturates to ±448 * scale.
  const std::vector<float> beyond = {10 * kE4m3Max * scale, -3 * kE4m3Max * scale};
  std::vector<float> saturated(2);
  quantize_dequantize_row(beyond, DType::fp8, scale, saturated);
  EXPECT_FLOAT_EQ(saturated[0], kE4m3Max * scale);
  EXPECT_FLOAT_EQ(saturated[1], -kE4m3Max * scale);
}

TEST(KvQuant, E4m3ScaleMapsTheLargestMagnitudeTo448) {
  const std::vector<float> values = {0.5f, -8.96f, 3.0f};
  EXPECT_FLOAT_EQ(e4m3_scale(values), 8.96f / 448.0f);
  EXPECT_EQ(e4m3_scale(std::vector<float>(4, 0.0f)), 1.0f);
}

}  // namespace
}  // namespace unisparse
