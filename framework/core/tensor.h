#pragma once
// A dense row-major host tensor of float. Values are stored as float whatever the storage dtype;
// round_to_dtype() makes them exactly representable in fp16/bf16 so that CPU and GPU backends see
// identical inputs.
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <numeric>
#include <span>
#include <vector>

namespace unisparse {

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::vector<int64_t> shape, float fill = 0.0f)
      : shape_(std::move(shape)), data_(static_cast<size_t>(count(shape_)), fill) {}

  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_[i]; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t size() const { return static_cast<int64_t>(data_.size()); }
  bool empty() const { return data_.empty(); }

  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  std::vector<float>& storage() { return data_; }
  const std::vector<float>& storage() const { return data_; }

  // Offset of an index tuple (row-major).
  int64_t offset(std::initializer_list<int64_t> index) const {
    int64_t off = 0;
    size_t i = 0;
    for (int64_t v : index) off = off * shape_[i++] + v;
    return off;
  }
  float& at(std::initializer_list<int64_t> index) { return data_[offset(index)]; }
  float at(std::initializer_list<int64_t> index) const { return data_[offset(index)]; }
  // Pointer to the contiguous trailing row at the given leading index tuple.
  float* row(std::initializer_list<int64_t> leading) { return data_.data() + row_offset(leading); }
  const float* row(std::initializer_list<int64_t> leading) const {
    return data_.data() + row_offset(leading);
  }

  // Elements of a shape. A shape with a zero extent holds none whatever its other extents (a file
  // may declare [2, 2^62, 0]), so it is 0 before any product can overflow; the product of other
  // shapes is bounded by whoever takes them from input (the safetensors span check).
  static int64_t count(const std::vector<int64_t>& shape) {
    if (std::find(shape.begin(), shape.end(), int64_t{0}) != shape.end()) return 0;
    return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
  }

 private:
  int64_t row_offset(std::initializer_list<int64_t> leading) const {
    int64_t off = 0;
    size_t i = 0;
    for (int64_t v : leading) off = off * shape_[i++] + v;
    for (; i < shape_.size(); ++i) off *= shape_[i];
    return off;
  }
  std::vector<int64_t> shape_;
  std::vector<float> data_;
};

}  // namespace unisparse
