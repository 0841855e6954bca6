#include "framework/workload/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "framework/core/dtype.h"
#include "framework/core/error.h"
#include "framework/core/size_limits.h"

namespace unisparse {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this reader copies it as is");

InputError file_error(const std::string& path, const std::string& message) {
  return InputError(path + ": " + message);
}

InputError tensor_error(const std::string& path, const std::string& name,
                        const std::string& message) {
  return InputError(path + ": tensor '" + name + "': " + message);
}

// Bits per element of every dtype of the safetensors format (the sub-byte float formats included),
// so that each tensor's span is checked against its shape whether or not it is ever read; 0 for a
// name the format does not define.
int element_bits(const std::string& dtype) {
  static const std::map<std::string, int, std::less<>> kBits{
      {"F4", 4},       {"F6_E2M3", 6},  {"F6_E3M2", 6},  {"BOOL", 8}, {"U8", 8},   {"I8", 8},
      {"F8_E5M2", 8},  {"F8_E4M3", 8},  {"F8_E8M0", 8},  {"I16", 16}, {"U16", 16}, {"F16", 16},
      {"BF16", 16},    {"I32", 32},     {"U32", 32},     {"F32", 32}, {"I64", 64}, {"U64", 64},
      {"F64", 64},     {"C64", 64}};
  const auto it = kBits.find(dtype);
  return it == kBits.end() ? 0 : it->second;
}

// The float dtypes this reader converts (to float) and writes.
bool is_float_dtype(const std::string& dtype) {
  return dtype == "F32" || dtype == "F16" || dtype == "BF16";
}

// Checks that an entry's data span is exactly what its dtype and shape need and lies inside the
// data section of `data_bytes` bytes. Sizes are multiplied with overflow checks, so a shape whose
// byte count would wrap around 2^64 (and match a short span) is refused like any other mismatch.
void check_span(const std::string& path, const std::string& name, const SafetensorsEntry& entry,
                uint64_t data_bytes) {
  auto bad = [&](const std::string& message) { return tensor_error(path, name, message); };
  const int bits = element_bits(entry.dtype);
  if (bits == 0) throw bad("unknown dtype '" + entry.dtype + "'");
  const std::string described = entry.dtype + " " + shape_text(entry.shape);
  if (entry.data_end > data_bytes)
    throw bad("truncated data: 'data_offsets' end " + std::to_string(entry.data_end) +
              " lies beyond the data section (" + std::to_string(data_bytes) + " bytes)");
  std::vector<int64_t> factors = entry.shape;
  factors.push_back(bits);
  // No tensor holds more bits than the data section: the bound keeps the product from wrapping.
  const auto data_bits = static_cast<int64_t>(std::min<uint64_t>(data_bytes, INT64_MAX / 8) * 8);
  const std::optional<int64_t> bits_needed = product_within(factors, data_bits);
  if (!bits_needed)
    throw bad(described + " needs more bytes than the whole data section (" +
              std::to_string(data_bytes) + " bytes)");
  const uint64_t span = entry.data_end - entry.data_begin;
  if (*bits_needed % 8 != 0 || static_cast<uint64_t>(*bits_needed / 8) != span)
    throw bad("data_offsets span " + std::to_string(span) + " bytes, but " + described +
              " needs " + (*bits_needed % 8 ? std::to_string(*bits_needed) + " bits"
                                             : std::to_string(*bits_needed / 8)));
}

std::string safetensors_name(DType dtype) {
  switch (dtype) {
    case DType::fp32: return "F32";
    case DType::fp16: return "F16";
    case DType::bf16: return "BF16";
    default: return "";
  }
}

SafetensorsEntry parse_entry(const std::string& path, const std::string& name,
                             const nlohmann::json& json) {
  auto bad = [&](const std::string& message) { return tensor_error(path, name, message); };
  if (!json.is_object()) throw bad("header entry is not an object");
  SafetensorsEntry entry;
  if (!json.contains("dtype") || !json["dtype"].is_string()) throw bad("missing string 'dtype'");
  entry.dtype = json["dtype"].get<std::string>();
  if (!json.contains("shape") || !json["shape"].is_array()) throw bad("missing array 'shape'");
  for (const auto& extent : json["shape"]) {
    if (!extent.is_number_integer() || extent.get<int64_t>() < 0)
      throw bad("shape holds a value that is not a non-negative integer");
    entry.shape.push_back(extent.get<int64_t>());
  }
  const auto& offsets = json.contains("data_offsets") ? json["data_offsets"] : nlohmann::json();
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    throw bad("'data_offsets' must be two non-negative integers [begin, end]");
  entry.data_begin = offsets[0].get<uint64_t>();
  entry.data_end = offsets[1].get<uint64_t>();
  if (entry.data_end < entry.data_begin) throw bad("'data_offsets' end lies before begin");
  return entry;
}

}  // namespace

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

SafetensorsReader::SafetensorsReader(const std::string& path) : path_(path) {
  file_.open(path, std::ios::binary);
  if (!file_) throw file_error(path, "cannot open the file for reading");
  file_.seekg(0, std::ios::end);
  file_size_ = static_cast<uint64_t>(file_.tellg());
  file_.seekg(0);
  uint8_t length_bytes[8];
  if (file_size_ < 8 || !file_.read(reinterpret_cast<char*>(length_bytes), 8))
    throw file_error(path, "too short for a safetensors header (" + std::to_string(file_size_) +
                               " bytes)");
  uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = header_length << 8 | length_bytes[i];
  if (header_length > file_size_ - 8)
    throw file_error(path, "header length " + std::to_string(header_length) +
                               " runs beyond the end of the file (" +
                               std::to_string(file_size_) + " bytes)");
  std::string header(header_length, '\0');
  if (!file_.read(header.data(), static_cast<std::streamsize>(header_length)))
    throw file_error(path, "cannot read the header");
  data_offset_ = 8 + header_length;

  nlohmann::json json;
  try {
    json = nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception& e) {  // parse_error; out_of_range: a huge number
    throw file_error(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!json.is_object()) throw file_error(path, "header is not a JSON object");
  for (const auto& [name, value] : json.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) throw file_error(path, "__metadata__ is not an object");
      for (const auto& [key, text] : value.items()) {
        if (!text.is_string())
          throw file_error(path, "__metadata__ value '" + key + "' is not a string");
        metadata_[key] = text.get<std::string>();
      }
      continue;
    }
    entries_[name] = parse_entry(path, name, value);
    check_span(path, name, entries_[name], file_size_ - data_offset_);
  }
}

std::vector<std::string> SafetensorsReader::names() const {
  std::vector<std::string> all;
  for (const auto& [name, entry] : entries_) all.push_back(name);
  return all;
}

const SafetensorsEntry& SafetensorsReader::entry(const std::string& name) const {
  const auto it = entries_.find(name);
  if (it == entries_.end()) throw tensor_error(path_, name, "missing from the file");
  return it->second;
}

std::vector<char> SafetensorsReader::read_bytes(const std::string& name,
                                                const SafetensorsEntry& e) {
  // The constructor checked the span against dtype, shape and file size (check_span).
  std::vector<char> raw(e.data_end - e.data_begin);
  file_.clear();
  file_.seekg(static_cast<std::streamoff>(data_offset_ + e.data_begin));
  if (!file_.read(raw.data(), static_cast<std::streamsize>(raw.size())))
    throw tensor_error(path_, name, "cannot read the data");
  return raw;
}

Tensor SafetensorsReader::read(const std::string& name) {
  const SafetensorsEntry& e = entry(name);
  if (!is_float_dtype(e.dtype))
    throw tensor_error(path_, name, "unsupported dtype '" + e.dtype + "' (expected F16, BF16 or F32)");
  const std::vector<char> raw = read_bytes(name, e);

  Tensor tensor(e.shape);
  float* out = tensor.data();
  const auto count = static_cast<uint64_t>(tensor.size());
  if (e.dtype == "F32") {
    // An empty tensor has no storage: memcpy's pointers must not be null even for 0 bytes.
    if (!raw.empty()) std::memcpy(out, raw.data(), raw.size());
  } else {
    const bool half = e.dtype == "F16";
    for (uint64_t i = 0; i < count; ++i) {
      uint16_t bits;
      std::memcpy(&bits, raw.data() + 2 * i, 2);
      out[i] = half ? half_bits_to_float(bits) : bf16_bits_to_float(bits);
    }
  }
  return tensor;
}

std::vector<int32_t> SafetensorsReader::read_int32(const std::string& name) {
  const SafetensorsEntry& e = entry(name);
  if (e.dtype != "I32")
    throw tensor_error(path_, name, "dtype is '" + e.dtype + "', expected I32");
  const std::vector<char> raw = read_bytes(name, e);
  std::vector<int32_t> values(raw.size() / 4);
  if (!raw.empty()) std::memcpy(values.data(), raw.data(), raw.size());  // as in read()
  return values;
}

void write_safetensors(const std::string& path, const std::vector<SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const SafetensorsTensor& t : tensors) {
    if (!t.tensor) {
      if (static_cast<int64_t>(t.int32->values.size()) != Tensor::count(t.int32->shape))
        throw tensor_error(path, t.name, std::to_string(t.int32->values.size()) +
                                             " int32 values for shape " + shape_text(t.int32->shape));
      const uint64_t bytes = 4 * t.int32->values.size();
      header[t.name] = {{"dtype", "I32"}, {"shape", t.int32->shape},
                        {"data_offsets", {offset, offset + bytes}}};
      offset += bytes;
      continue;
    }
    const std::string dtype = safetensors_name(t.dtype);
    if (dtype.empty())
      throw tensor_error(path, t.name, "cannot store dtype " + std::string(to_string(t.dtype)) +
                                           " (fp32, fp16 or bf16 only)");
    const uint64_t bytes = static_cast<uint64_t>(t.tensor->size()) * (element_bits(dtype) / 8);
    header[t.name] = {{"dtype", dtype}, {"shape", t.tensor->shape()},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');  // data starts 8-byte aligned

  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) throw file_error(path, "cannot open the file for writing");
  uint8_t length_bytes[8];
  for (int i = 0; i < 8; ++i) length_bytes[i] = static_cast<uint8_t>(header_text.size() >> (8 * i));
  file.write(reinterpret_cast<const char*>(length_bytes), 8);
  file.write(header_text.data(), static_cast<std::streamsize>(header_text.size()));
  std::vector<char> raw;
  for (const SafetensorsTensor& t : tensors) {
    if (!t.tensor) {
      file.write(reinterpret_cast<const char*>(t.int32->values.data()),
                 static_cast<std::streamsize>(4 * t.int32->values.size()));
      continue;
    }
    const float* values = t.tensor->data();
    const auto count = static_cast<size_t>(t.tensor->size());
    if (t.dtype == DType::fp32) {
      file.write(reinterpret_cast<const char*>(values), static_cast<std::streamsize>(4 * count));
      continue;
    }
    raw.resize(2 * count);
    for (size_t i = 0; i < count; ++i) {
      const uint16_t bits = t.dtype == DType::fp16 ? float_to_half_bits(values[i])
                                                   : float_to_bf16_bits(values[i]);
      std::memcpy(raw.data() + 2 * i, &bits, 2);
    }
    file.write(raw.data(), static_cast<std::streamsize>(raw.size()));
  }
  if (!file) throw file_error(path, "write failed");
}

}  // namespace unisparse
