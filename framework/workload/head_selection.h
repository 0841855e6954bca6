#pragma once
// Which KV heads of a layer are streaming heads. A sweep picks the rule (`head_selection`):
//   interleaved          round(streaming_fraction * num_kv_heads) heads of every layer, in the fixed
//                        interleaved order of HeadLayout::with_streaming_fraction (the generator's)
//   trace                the trace's own head_types metadata
//   random               a seeded random choice of round(streaming_fraction * pairs) of all
//                        (layer, KV head) pairs of the trace
//   calibrated           the pairs of lowest calibration cost (head_calibration.h), by the global
//                        quantile rule across layers
//   calibrated_inverted  the pairs of highest calibration cost, the same count (a control)
// random and the calibrated rules choose across layers, so one layer may hold more or fewer
// streaming heads than the fraction.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "framework/core/types.h"
#include "framework/workload/head_calibration.h"

namespace unisparse {

enum class HeadSelection { interleaved, trace, random, calibrated, calibrated_inverted };

inline constexpr std::array<std::pair<HeadSelection, std::string_view>, 5> kHeadSelectionNames{
    {{HeadSelection::interleaved, "interleaved"},
     {HeadSelection::trace, "trace"},
     {HeadSelection::random, "random"},
     {HeadSelection::calibrated, "calibrated"},
     {HeadSelection::calibrated_inverted, "calibrated_inverted"}}};

inline std::string_view to_string(HeadSelection selection) {
  for (const auto& [value, name] : kHeadSelectionNames)
    if (value == selection) return name;
  return "?";
}

// False on an unknown name (the caller reports where it came from).
inline bool parse(std::string_view text, HeadSelection& out) {
  for (const auto& [value, name] : kHeadSelectionNames)
    if (name == text) {
      out = value;
      return true;
    }
  return false;
}

inline bool uses_calibration(HeadSelection selection) {
  return selection == HeadSelection::calibrated || selection == HeadSelection::calibrated_inverted;
}

// Everything a head layout can depend on, for one layer.
struct HeadSelectionRequest {
  HeadSelection selection = HeadSelection::interleaved;
  int layer = 0;
  int num_kv_heads = 0;
  double streaming_fraction = 0.0;
  uint64_t seed = 0;  // random
  int sink_tokens = 0;
  int local_tokens = 0;
  std::vector<int> model_layers;                  // random: every layer the trace holds, ascending
  const std::vector<HeadKind>* trace_head_types = nullptr;  // trace: this layer's head_types
  const HeadCalibration* calibration = nullptr;             // calibrated, calibrated_inverted
};

// The layout of request.layer. Throws std::invalid_argument with a message saying what is missing
// or mismatched (no head types in the trace, no calibration, a layer or KV-head count the
// calibration does not cover); the caller names the file.
HeadLayout select_head_layout(const HeadSelectionRequest& request);

// The heads that run as streaming heads under a sparsity mode: the layout, or every head dense
// when the mode has no streaming heads (dense, dynamic).
HeadLayout heads_that_run(const HeadLayout& heads, SparsityMode mode);

// "dsds": per KV head 'd' (dense) or 's' (streaming).
std::string head_layout_text(const HeadLayout& heads);

}  // namespace unisparse
