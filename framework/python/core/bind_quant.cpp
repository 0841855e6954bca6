// The KV quantizers: int8 / int4 per row (scale, zero), fp8 e4m3 with a caller's scale.
#include <nanobind/stl/string.h>

#include <stdexcept>

#include "arrays.h"
#include "bindings.h"
#include "framework/core/kv_quant.h"

namespace unisparse::python {

namespace {

DType quantized_format(const std::string& name) {
  DType format{};
  if (!parse(name, format) || !is_quantized(format))
    throw std::invalid_argument("format: expected int8 | int4 | fp8, got '" + name + "'");
  return format;
}

size_t code_bytes(DType format, size_t channels) {
  return format == DType::int4 ? (channels + 1) / 2 : channels;
}

nb::tuple quantize(const FloatIn& rows, const std::string& format_name, float fp8_scale) {
  require_shape(rows, "rows", {-1, -1});
  const DType format = quantized_format(format_name);
  const size_t count = rows.shape(0), channels = rows.shape(1);
  const size_t bytes = code_bytes(format, channels);
  std::vector<uint8_t> codes(count * bytes);
  std::vector<float> scales(count), zeros(count);
  for (size_t r = 0; r < count; ++r) {
    const QuantizedRow row = quantize_row({rows.data() + r * channels, channels}, format, fp8_scale);
    std::copy(row.codes.begin(), row.codes.end(), codes.begin() + r * bytes);
    scales[r] = row.scale;
    zeros[r] = row.zero;
  }
  return nb::make_tuple(to_numpy(std::move(codes), {count, bytes}),
                        to_numpy(std::move(scales), {count}), to_numpy(std::move(zeros), {count}));
}

NumpyOut<float> dequantize(const ByteIn& codes, const FloatIn& scales, const FloatIn& zeros,
                           const std::string& format_name, int channels) {
  const DType format = quantized_format(format_name);
  if (channels < 1) throw std::invalid_argument("channels must be >= 1");
  const size_t bytes = code_bytes(format, static_cast<size_t>(channels));
  require_shape(codes, "codes", {-1, static_cast<int64_t>(bytes)});
  const auto count = static_cast<int64_t>(codes.shape(0));
  require_shape(scales, "scales", {count});
  require_shape(zeros, "zeros", {count});
  std::vector<float> out(static_cast<size_t>(count) * channels);
  for (int64_t r = 0; r < count; ++r) {
    QuantizedRow row;
    row.codes.assign(codes.data() + r * bytes, codes.data() + (r + 1) * bytes);
    row.scale = scales.data()[r];
    row.zero = zeros.data()[r];
    dequantize_row(row, format, {out.data() + r * channels, static_cast<size_t>(channels)});
  }
  return to_numpy(std::move(out), {static_cast<size_t>(count), static_cast<size_t>(channels)});
}

NumpyOut<float> round_trip(const FloatIn& rows, const std::string& format_name, float fp8_scale) {
  require_shape(rows, "rows", {-1, -1});
  const DType format = quantized_format(format_name);
  const size_t count = rows.shape(0), channels = rows.shape(1);
  std::vector<float> out(rows.data(), rows.data() + rows.size());
  for (size_t r = 0; r < count; ++r) {
    const std::span<float> row(out.data() + r * channels, channels);
    quantize_dequantize_row(row, format, fp8_scale, row);
  }
  return to_numpy(std::move(out), {count, channels});
}

}  // namespace

void bind_quant(nb::module_& m) {
  m.def("quantize_rows", &quantize, nb::arg("rows"), nb::arg("format"), nb::arg("fp8_scale") = 1.0f,
        "Quantizes rows [n, d] (one token's key or value of one KV head each) in int8 | int4 | "
        "fp8: (codes uint8 [n, d or ceil(d / 2)], scale float32 [n], zero float32 [n]). int8 / "
        "int4 compute each row's scale and zero; fp8 divides by fp8_scale (see e4m3_scale).");
  m.def("dequantize_rows", &dequantize, nb::arg("codes"), nb::arg("scales"), nb::arg("zeros"),
        nb::arg("format"), nb::arg("channels"),
        "The rows [n, channels] that quantize_rows' codes, scales and zeros stand for.");
  m.def("quantize_dequantize", &round_trip, nb::arg("rows"), nb::arg("format"),
        nb::arg("fp8_scale") = 1.0f,
        "What a cache in that format returns for rows [n, d]: dequantize(quantize(rows)).");
  m.def("e4m3_scale", [](const FloatIn& values) { return e4m3_scale(span_of(values)); },
        nb::arg("values"), "The fp8 scale of a set of values: max |x| / 448 (1 when all are 0).");
}

}  // namespace unisparse::python
