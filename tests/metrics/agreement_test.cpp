#include "framework/metrics/agreement.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

namespace unisparse {
namespace {

Csr csr_of(const std::vector<std::vector<int32_t>>& rows) {
  Csr csr;
  for (const auto& row : rows) csr.append_row(row);
  return csr;
}

Tensor ramp(std::vector<int64_t> shape) {
  Tensor tensor(std::move(shape));
  for (int64_t i = 0; i < tensor.size(); ++i) tensor.storage()[i] = 1.0f + 0.25f * (i % 7);
  return tensor;
}

DecodeRun decode_run() {
  DecodeRun run;
  run.out = {ramp({2, 3, 5})};  // 2 steps, 3 query heads, head_dim 5
  run.selections = {csr_of({{0, 1}, {2}, {0, 3}}), csr_of({{0, 1}, {1, 2}, {3}})};
  return run;
}

TEST(Agreement, DecodeShareOfIdenticalPageSetsAndOutputError) {
  const DecodeRun baseline = decode_run();
  DecodeRun candidate = decode_run();
  candidate.selections[1] = csr_of({{0, 1}, {1, 3}, {3}});  // one row of six differs
  float* row = candidate.out[0].row({1, 2});
  for (int i = 0; i < 5; ++i) row[i] *= 1.2f;  // relative error 0.2 on one row of six
  const Agreement agreement = compare_decode(candidate, baseline);
  EXPECT_NEAR(agreement.page_set_agreement, 5.0 / 6.0, 1e-12);
  EXPECT_NEAR(agreement.out_rel_l2_max, 0.2, 1e-6);
  EXPECT_NEAR(agreement.out_rel_l2_mean, 0.2 / 6, 1e-6);
}

TEST(Agreement, IdenticalRunsAgreeExactly) {
  const Agreement agreement = compare_decode(decode_run(), decode_run());
  EXPECT_EQ(agreement.page_set_agreement, 1.0);
  EXPECT_EQ(agreement.out_rel_l2_max, 0.0);
}

TEST(Agreement, DecodeWithoutSelectionsHasNoPageAgreement) {
  DecodeRun without = decode_run();
  without.selections.clear();
  EXPECT_TRUE(std::isnan(compare_decode(without, decode_run()).page_set_agreement));
}

TEST(Agreement, DifferentShapesAreRejected) {
  DecodeRun other = decode_run();
  other.out[0] = ramp({2, 3, 4});
  EXPECT_THROW(compare_decode(other, decode_run()), std::invalid_argument);
  other = decode_run();
  other.selections.pop_back();
  EXPECT_THROW(compare_decode(other, decode_run()), std::invalid_argument);
}

TEST(Agreement, PrefillOutputsOnly) {
  PrefillRun baseline, candidate;
  baseline.out = {ramp({2, 7, 3}), ramp({2, 7, 3})};
  candidate.out = baseline.out;
  float* row = candidate.out[1].row({1, 6});
  for (int i = 0; i < 3; ++i) row[i] *= 0.9f;  // relative error 0.1 on one row of 28
  const Agreement agreement = compare_prefill(candidate, baseline);
  EXPECT_TRUE(std::isnan(agreement.page_set_agreement));
  EXPECT_NEAR(agreement.out_rel_l2_max, 0.1, 1e-6);
  EXPECT_NEAR(agreement.out_rel_l2_mean, 0.1 / 28, 1e-7);
}

}  // namespace
}  // namespace unisparse
