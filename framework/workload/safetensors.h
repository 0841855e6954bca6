#pragma once
// The safetensors container: an 8-byte little-endian header length N, N bytes of JSON mapping each
// tensor name to {dtype, shape, data_offsets: [begin, end)} (offsets into the data section that
// follows the header) plus an optional "__metadata__" string map, then the raw little-endian data.
// F16, BF16 and F32 tensors are read (converted to float) and written; I32 tensors (index arrays such as
// exported plans) are read and written as int32.
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
// a multi-layer trace is not loaded whole. The header check covers every tensor before anything is
// allocated from it: a dtype of the format, a shape whose size (multiplied without overflow) is
// exactly its data span, and a span inside the file. Every failure is an InputError naming the file
// (and the tensor where there is one).
class SafetensorsReader {
 public:
  explicit SafetensorsReader(const std::string& path);

  const std::string& path() const { return path_; }
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  std::vector<std::string> names() const;  // every tensor of the header, sorted
  const SafetensorsEntry& entry(const std::string& name) const;  // InputError when missing
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  Tensor read(const std::string& name);  // InputError when missing, truncated or not a float dtype
  std::vector<int32_t> read_int32(const std::string& name);  // I32 only; InputError as read()

 private:
  // The raw bytes of a tensor's data span.
  std::vector<char> read_bytes(const std::string& name, const SafetensorsEntry& e);

  std::string path_;
  std::ifstream file_;
  uint64_t data_offset_ = 0;  // where the data section starts in the file
  uint64_t file_size_ = 0;
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// "[8, 4096, 128]", for messages.
std::string shape_text(const std::vector<int64_t>& shape);

// An int32 tensor to write (stored as I32): row-major values, shape's element count of them.
struct Int32Tensor {
  std::vector<int64_t> shape;
  std::vector<int32_t> values;
};

// A tensor to write: either `tensor`, stored as dtype (fp32, fp16 or bf16; values are rounded to
// it), or, when `tensor` is null, `int32` stored as I32.
struct SafetensorsTensor {
  std::string name;
  const Tensor* tensor = nullptr;
  DType dtype = DType::fp16;
  const Int32Tensor* int32 = nullptr;
};

// Writes the tensors in the given order with the header padded to a multiple of 8 bytes. Throws
// InputError when the file cannot be written, a dtype is not a safetensors float type, or an int32
// tensor's value count does not match its shape.
void write_safetensors(const std::string& path, const std::vector<SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata);

}  // namespace unisparse
