#pragma once
// Dynamic page selection for decode (framework/DESIGN.md, Selection rules): Quest scores on
// hierarchical pages (or the oracle's true page masses), top-k with the current last page forced
// in, selections reused for reuse_interval steps, per query head or shared per KV head. Shared
// modes combine the group's physical-page scores elementwise: kv_head_max by max, kv_head_sum by a
// sum over the query heads in ascending head order (fp32 for Quest scores, fp64 for oracle masses).
#include <cstdint>
#include <vector>

#include "framework/core/csr.h"
#include "framework/core/types.h"
#include "framework/sparse/key_stats.h"
#include "framework/sparse/page_selector_kind.h"
#include "framework/sparse/plan.h"
#include "framework/workload/workload.h"

namespace unisparse {

class PageSelector {
 public:
  // selected_kv_heads: [num_kv_heads], whether the query heads of each KV head select pages (the
  // backend leaves streaming heads out); empty = every head. kind: the page scores, Quest bounds
  // from the key statistics or the oracle's softmax mass of each page (oracle_pages.h) from the
  // CPU backend's attention weights over tokens 0 .. T + step.
  PageSelector(const ModelShape& shape, PageGeometry geometry, SelectionPolicy policy, int batch,
               std::vector<bool> selected_kv_heads = {},
               PageSelectorKind kind = PageSelectorKind::quest);

  // Pages attended by every (sequence, query head) at decode step `step`, given statistics that
  // already include token T + step (num_tokens = T + step + 1 tokens; the oracle reads no
  // statistics and takes nullptr). Rows b * num_q_heads + h, ascending physical page ids; rows of
  // KV heads left out of the selection are empty.
  //  * step % reuse_interval == 0: scores every page and caches the top k - 1 scored pages;
  //  * other steps: the cached pages of the last selector step plus the current last page, so a
  //    page opened since that step is attended (and the page that was last then is not, unless it
  //    is the current last page: the row keeps k pages);
  //  * at every step, a context of at most k pages attends every page.
  // Steps between selector steps need a selection made earlier by this selector.
  Csr select(int step, int num_tokens, const KeyStatsSet* stats, const Workload& workload);

  int pages_per_selection() const { return pages_per_selection_; }  // k = budget / page size

 private:
  void run_selector(int num_tokens, int step, const KeyStatsSet* stats, const Workload& workload);

  ModelShape shape_;
  PageGeometry geometry_;
  SelectionPolicy policy_;
  int batch_;
  PageSelectorKind kind_;
  int pages_per_selection_;
  std::vector<bool> selected_kv_heads_;         // [num_kv_heads]
  bool has_selection_ = false;
  std::vector<std::vector<int32_t>> cached_;    // [batch * num_q_heads] ascending top scored pages
};

// Page selection of every decode step of a workload under plan.geometry, plan.policy and
// plan.selector, every head treated as a dense head (plan.mode and plan.heads are not read):
// selections[s] as PageSelector.
DecodeSelections select_all_steps(const Workload& workload, const DecodePlan& plan);

}  // namespace unisparse
