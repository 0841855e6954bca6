#include "framework/metrics/agreement.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "framework/metrics/error_summary.h"

namespace unisparse {
namespace {

// Relative L2 of every output row (the trailing dimension) of a against b.
std::vector<double> row_errors(const std::vector<Tensor>& a, const std::vector<Tensor>& b,
                               const char* what) {
  if (a.size() != b.size())
    throw std::invalid_argument(std::string(what) + ": the runs have different batch sizes");
  std::vector<double> errors;
  for (size_t sequence = 0; sequence < a.size(); ++sequence) {
    const Tensor& out_a = a[sequence];
    const Tensor& out_b = b[sequence];
    if (out_a.shape() != out_b.shape())
      throw std::invalid_argument(std::string(what) + ": the runs have different output shapes");
    if (out_a.empty()) continue;
    const int64_t row_length = out_a.dim(out_a.rank() - 1);
    for (int64_t offset = 0; offset < out_a.size(); offset += row_length)
      errors.push_back(relative_l2({out_a.data() + offset, static_cast<size_t>(row_length)},
                                   {out_b.data() + offset, static_cast<size_t>(row_length)}));
  }
  return errors;
}

Agreement agreement_of(double page_set_agreement, const std::vector<double>& errors) {
  const ErrorSummary summary = summarize_errors(errors);
  return {page_set_agreement, summary.max, summary.mean};
}

}  // namespace

Agreement compare_decode(const DecodeRun& a, const DecodeRun& b) {
  double page_set_agreement = std::numeric_limits<double>::quiet_NaN();
  if (!a.selections.empty() && !b.selections.empty()) {
    if (a.selections.size() != b.selections.size())
      throw std::invalid_argument("compare_decode: the runs have different numbers of steps");
    int64_t rows = 0, identical = 0;
    for (size_t step = 0; step < a.selections.size(); ++step) {
      const Csr& selection_a = a.selections[step];
      const Csr& selection_b = b.selections[step];
      if (selection_a.rows() != selection_b.rows())
        throw std::invalid_argument("compare_decode: the runs have different selection rows");
      for (int row = 0; row < selection_a.rows(); ++row) {
        ++rows;
        identical += std::ranges::equal(selection_a.row(row), selection_b.row(row)) ? 1 : 0;
      }
    }
    if (rows > 0) page_set_agreement = static_cast<double>(identical) / static_cast<double>(rows);
  }
  return agreement_of(page_set_agreement, row_errors(a.out, b.out, "compare_decode"));
}

Agreement compare_prefill(const PrefillRun& a, const PrefillRun& b) {
  return agreement_of(std::numeric_limits<double>::quiet_NaN(),
                      row_errors(a.out, b.out, "compare_prefill"));
}

}  // namespace unisparse
