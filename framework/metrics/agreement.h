#pragma once
// Kernel correctness, separate from the sparsity's accuracy (kernel_vs_cpu, framework/DESIGN.md,
// Backends and their checks): how closely one backend's run matches another's on the same workload
// and plan (typically cuda against cpu).
#include "framework/backend/backend.h"

namespace unisparse {

struct Agreement {  // NaN = not applicable
  // Share of decode rows (step, sequence, query head) whose page sets are identical.
  double page_set_agreement;
  // ||o_a - o_b|| / ||o_b|| per output row, max and mean over every row of every sequence.
  double out_rel_l2_max;
  double out_rel_l2_mean;
};

// b is the baseline. Throws std::invalid_argument when the two runs have different shapes.
// page_set_agreement is NaN when either run has no selections.
Agreement compare_decode(const DecodeRun& a, const DecodeRun& b);
// Prefill has no page sets: page_set_agreement is NaN.
Agreement compare_prefill(const PrefillRun& a, const PrefillRun& b);

}  // namespace unisparse
