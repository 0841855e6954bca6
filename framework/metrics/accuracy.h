#pragma once
// What the sparsity costs: a backend's outputs and attended sets against the dense fp64 reference
// (README.md, Results). Every metric is a mean or share over rows, a row being one (sequence,
// decode step, query head) in decode or one (sequence, query head, query) in prefill.
#include <cstdint>
#include <limits>
#include <span>

#include "framework/backend/backend.h"
#include "framework/reference/decode_reference.h"

namespace unisparse {

struct Accuracy {  // NaN = not applicable (written as an empty cell)
  // ||o - o_ref|| / ||o_ref|| per row: mean, nearest-rank p99 and max.
  double out_rel_l2_mean;
  double out_rel_l2_p99;
  double out_rel_l2_max;
  // Mean over rows of the reference softmax mass inside the attended tokens.
  double attn_recall;
  // Mean over dense-head decode rows with page selection of |selected ∩ oracle| / |oracle|, oracle
  // = oracle_pages() of the reference weights (sparse/oracle_pages.h: the current last page plus
  // the k - 1 other pages of highest reference mass, k = the number of pages the row attends; ties:
  // lower page id), the choice the oracle page selector makes.
  double page_recall;
  // Share of needle-seeking decode rows whose every needle token was attended. Needle-seeking rows:
  // on synthetic workloads those with planted needle targets; on traces with needle_positions those
  // whose reference attention puts at least needle_mass_threshold of its mass on the needle tokens.
  double needle_hit;
  int64_t rows;
};

// Decode rows of the first min(reference_batches, batch) sequences. The attended tokens of a row
// are attended_ranges() of its selection (run.selections[s].row(b * num_q_heads + h)), streaming
// when the mode uses streaming heads and the row's KV head is one. A run without selections gets
// NaN for attn_recall, page_recall and needle_hit. A precomputed `reference` of the same workload
// (covering those sequences) is used instead of recomputing the dense rows.
Accuracy evaluate_decode(const Workload& workload, const DecodePlan& plan, const DecodeRun& run,
                         int reference_batches, const DecodeReference* reference = nullptr,
                         double needle_mass_threshold = kDefaultNeedleMassThreshold);

// The reference softmax mass inside ascending, disjoint token ranges. probabilities: [tokens].
double mass_inside(std::span<const double> probabilities, std::span<const TokenRange> ranges);

// Prefill rows of the first min(reference_batches, batch) sequences, for the query rows
// sample_query_rows(T, reference_rows, seed) of every query head (every row when reference_rows <=
// 0). The attended keys of query i are those plan.visible() admits, within the block_list row of
// i's query block for block_list heads. page_recall and needle_hit do not apply to prefill (NaN).
Accuracy evaluate_prefill(const Workload& workload, const PrefillPlan& plan, const PrefillRun& run,
                          int reference_rows, uint64_t seed,
                          int reference_batches = std::numeric_limits<int>::max());

}  // namespace unisparse
