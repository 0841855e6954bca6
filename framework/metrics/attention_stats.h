#pragma once
// What a workload's decode attention looks like, per query head: the statistics that decide how
// much streaming heads, page selection, hierarchical paging and selection reuse can keep. Measured
// from the dense fp64 softmax of each decode query of sequence 0 and averaged over the decode steps,
// so that a synthetic workload and a captured trace are described by the same numbers
// (`unisparse attention-stats`, analysis/fit_workload.py).
#include <vector>

#include "framework/workload/workload.h"

namespace unisparse {

struct AttentionStatsSettings {
  std::vector<int> sink_tokens{4, 64};  // S: the first S tokens count as sinks
  int local_tokens = 256;               // L: the last L tokens are the local window
  std::vector<double> top_fractions{0.01, 0.05, 0.10};  // shares of the visible tokens
  // Pages of these sizes compete for token_budget tokens against the best token_budget tokens.
  std::vector<int> page_sizes{16, 64};
  int token_budget = 512;               // a multiple of every page size and of overlap_page_size
  int overlap_page_size = 64;           // page size of the temporal statistics
  std::vector<int> overlap_lags{1, 4};  // decode steps between the two selections compared
};

// One query head's statistics, each the mean over decode steps of a per-step value. A step's
// weights w are the reference softmax over its n = T + step + 1 visible tokens.
struct HeadAttentionStats {
  int q_head = 0;
  int kv_head = 0;
  // [sink_tokens.size()]: mass on tokens [0, S); and on [0, S) ∪ [n - L, n), the window a
  // streaming head of sink S and local L keeps.
  std::vector<double> sink_mass;
  std::vector<double> sink_local_mass;
  double local_mass = 0;  // mass on [n - L, n)
  // [top_fractions.size()]: mass on the ceil(f * n) tokens of highest weight.
  std::vector<double> top_mass;
  // Spatial clustering, [page_sizes.size()]: page efficiency at page size P = the mass of the
  // oracle's k = token_budget / P pages (oracle_pages: the current last page plus the k - 1 others
  // of highest mass) over the mass of the token_budget tokens of highest weight. 1 when the mass
  // that matters sits in whole pages; the drop from P = 16 to P = 64 is what loading 64-token
  // physical pages costs at this budget even with perfect scores, the loss hierarchical paging
  // accepts for large pages. Both masses are 1 when the budget covers the context.
  std::vector<double> page_efficiency;
  double budget_mass = 0;  // mass of the token_budget tokens of highest weight
  // Temporal locality at overlap_page_size, [overlap_lags.size()], over the steps s >= lag (NaN
  // when there are none):
  //  oracle_overlap  |O_s ∩ O_{s-lag}| / |O_s|, O_s the oracle pages of step s;
  //  reuse_retention the mass of step s inside what a selection made lag steps earlier attends
  //                  (the oracle's top k - 1 scored pages of step s - lag plus the current last
  //                  page, the reuse rule of the page selector) over the mass of O_s.
  std::vector<double> oracle_overlap;
  std::vector<double> reuse_retention;
  // Mass on the workload's needle tokens: a trace's needle_positions, or every token a synthetic
  // decode query of the sequence was planted to seek. NaN when there are none. needle_mass_peak
  // is its maximum over the steps instead of the mean: a retrieval head seeks the needle at the
  // steps that need it (a passkey's digits), not at every step.
  double needle_mass = 0;
  double needle_mass_peak = 0;
};

// Statistics of every query head of the workload (ascending), from sequence 0's decode steps.
// Throws InputError (key "attention-stats") when the workload has no decode step or the settings
// are out of range: empty lists, sizes < 1, fractions outside (0, 1], a budget that is not a
// multiple of a page size.
std::vector<HeadAttentionStats> attention_stats(const Workload& workload,
                                                const AttentionStatsSettings& settings);

// The settings checks of attention_stats() alone, so a command can refuse bad options before it
// reads or generates anything.
void check_attention_stats_settings(const AttentionStatsSettings& settings);

}  // namespace unisparse
