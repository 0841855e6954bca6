#pragma once
// The safetensors container: an 8-byte little-endian header length N, N bytes of JSON mapping each
// tensor name to {dtype, shape, data_offsets: [begin, end)} (offsets into the data section that
// follows the header) plus an optional "__metadata__" string map, then the raw little-endian data.
// Only F16, BF16 and F32 tensors are read or written; values are converted to float on reading.
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/core/types.h"

namespace unisparse {

struct SafetensorsEntry {
  std::string dtype;  // as named in the header: "F16", "BF16", "F32", ...
  std::vector<int64_t> shape;
  uint64_t data_begin = 0;  // byte offsets into the data section
  uint64_t data_end = 0;
};

// An open safetensors file whose header has been read and checked; tensors are read on demand, so
// a multi-layer trace is not loaded whole. Every failure is an InputError naming the file (and the
// tensor where there is one).
class SafetensorsReader {
 public:
  explicit SafetensorsReader(const std::string& path);

  const std::string& path() const { return path_; }
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  const SafetensorsEntry& entry(const std::string& name) const;  // InputError when missing
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  Tensor read(const std::string& name);  // InputError when missing or truncated

 private:
  std::string path_;
  std::ifstream file_;
  uint64_t data_offset_ = 0;  // where the data section starts in the file
  uint64_t file_size_ = 0;
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// "[8, 4096, 128]", for messages.
std::string shape_text(const std::vector<int64_t>& shape);

// A tensor to write, stored as dtype (fp32, fp16 or bf16; values are rounded to it).
struct SafetensorsTensor {
  std::string name;
  const Tensor* tensor = nullptr;
  DType dtype = DType::fp16;
};

// Writes the tensors in the given order with the header padded to a multiple of 8 bytes. Throws
// InputError when the file cannot be written or a dtype is not a safetensors float type.
void write_safetensors(const std::string& path, const std::vector<SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata);

}  // namespace unisparse
