#pragma once
// numpy <-> C++ for the binding. Inputs are float32 (or int32) C-contiguous arrays viewed in place:
// nanobind hands over the numpy buffer itself when an array already has that dtype and layout, and
// converts (copies) any other array first. Outputs are numpy arrays that own a std::vector moved
// into them, so results are never copied on the way out.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "framework/core/csr.h"

namespace unisparse::python {

namespace nb = nanobind;

using FloatIn = nb::ndarray<const float, nb::c_contig, nb::device::cpu>;
using DoubleIn = nb::ndarray<const double, nb::c_contig, nb::device::cpu>;
using IntIn = nb::ndarray<const int32_t, nb::c_contig, nb::device::cpu>;
using ByteIn = nb::ndarray<const uint8_t, nb::c_contig, nb::device::cpu>;
template <class T>
using NumpyOut = nb::ndarray<nb::numpy, T>;

template <class Array>
auto span_of(const Array& array) {
  return std::span(array.data(), array.size());
}

// The array's shape, for messages: "[3, 4096, 64]".
template <class Array>
std::string shape_text(const Array& array) {
  std::string text = "[";
  for (size_t i = 0; i < array.ndim(); ++i)
    text += (i ? ", " : "") + std::to_string(array.shape(i));
  return text + "]";
}

// Throws ValueError (std::invalid_argument) naming the argument unless the array has this shape;
// -1 matches any extent.
template <class Array>
void require_shape(const Array& array, const char* name, std::initializer_list<int64_t> shape) {
  bool ok = array.ndim() == shape.size();
  size_t i = 0;
  for (int64_t extent : shape) {
    if (ok && extent >= 0 && static_cast<int64_t>(array.shape(i)) != extent) ok = false;
    ++i;
  }
  if (ok) return;
  std::string wanted = "[";
  i = 0;
  for (int64_t extent : shape) wanted += (i++ ? ", " : "") + (extent < 0 ? "n" : std::to_string(extent));
  throw std::invalid_argument(std::string(name) + ": expected shape " + wanted + "], got " +
                              shape_text(array));
}

template <class T>
NumpyOut<T> to_numpy(std::vector<T>&& values, std::initializer_list<size_t> shape) {
  auto* owner = new std::vector<T>(std::move(values));
  nb::capsule release(owner, [](void* pointer) noexcept {
    delete static_cast<std::vector<T>*>(pointer);
  });
  return NumpyOut<T>(owner->data(), shape, release);
}

// A CSR as the pair (indptr int32 [rows + 1], indices int32 [nnz]).
inline nb::tuple csr_to_numpy(const Csr& csr) {
  std::vector<int32_t> indptr = csr.indptr, indices = csr.indices;
  const size_t rows = indptr.size(), nnz = indices.size();
  return nb::make_tuple(to_numpy(std::move(indptr), {rows}), to_numpy(std::move(indices), {nnz}));
}

}  // namespace unisparse::python
