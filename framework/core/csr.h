#pragma once
// Compressed sparse rows, the one format for page tables, prefill block lists and decode page
// selections (FlashInfer page tables, FlexAttention kv_num_blocks/kv_indices): row r owns
// indices[indptr[r] .. indptr[r+1]).
#include <cstdint>
#include <span>
#include <vector>

namespace unisparse {

struct Csr {
  std::vector<int32_t> indptr{0};  // [rows + 1]
  std::vector<int32_t> indices;    // [indptr.back()]

  int rows() const { return static_cast<int>(indptr.size()) - 1; }
  std::span<const int32_t> row(int r) const {
    return {indices.data() + indptr[r], static_cast<size_t>(indptr[r + 1] - indptr[r])};
  }
  void append_row(std::span<const int32_t> values) {
    indices.insert(indices.end(), values.begin(), values.end());
    indptr.push_back(static_cast<int32_t>(indices.size()));
  }
  bool operator==(const Csr&) const = default;
};

}  // namespace unisparse
