#include "framework/workload/head_selection.h"

#include <algorithm>
#include <stdexcept>

#include "framework/workload/rng.h"

namespace unisparse {

namespace {

HeadLayout layout_of(const std::vector<bool>& streaming, const HeadSelectionRequest& request) {
  HeadLayout layout = HeadLayout::all_dense(request.num_kv_heads);
  layout.sink_tokens = request.sink_tokens;
  layout.local_tokens = request.local_tokens;
  for (int h = 0; h < request.num_kv_heads; ++h)
    if (streaming[h]) layout.kv_head_kind[h] = HeadKind::streaming;
  return layout;
}

// The layer's row of a global quantile over every layer's costs.
HeadLayout by_global_quantile(const std::vector<std::vector<double>>& cost, int layer_index,
                              bool highest_first, const HeadSelectionRequest& request) {
  const auto streaming = streaming_by_global_quantile(cost, request.streaming_fraction, highest_first);
  return layout_of(streaming[layer_index], request);
}

HeadLayout calibrated_layout(const HeadSelectionRequest& request) {
  const HeadCalibration* calibration = request.calibration;
  const std::string selection(to_string(request.selection));
  if (calibration == nullptr)
    throw std::invalid_argument("head_selection " + selection + " needs a head_calibration");
  const int index = calibration->layer_index(request.layer);
  if (index < 0)
    throw std::invalid_argument("head calibration '" + calibration->name + "' has no scores for layer " +
                                std::to_string(request.layer));
  if (calibration->num_kv_heads() != request.num_kv_heads)
    throw std::invalid_argument("head calibration '" + calibration->name + "' scores " +
                                std::to_string(calibration->num_kv_heads()) + " KV heads per layer, the trace has " +
                                std::to_string(request.num_kv_heads));
  return by_global_quantile(calibration->ranking(), index,
                            request.selection == HeadSelection::calibrated_inverted, request);
}

// Independent uniform costs per (layer, KV head), one stream per pair: the same pair draws the same
// cost whatever other layers the trace holds.
HeadLayout random_layout(const HeadSelectionRequest& request) {
  const auto found =
      std::find(request.model_layers.begin(), request.model_layers.end(), request.layer);
  if (found == request.model_layers.end())
    throw std::invalid_argument("layer " + std::to_string(request.layer) +
                                " is not among the trace's layers");
  std::vector<std::vector<double>> cost;
  for (int layer : request.model_layers) {
    std::vector<double>& row = cost.emplace_back();
    for (int head = 0; head < request.num_kv_heads; ++head)
      row.push_back(Rng(request.seed, {static_cast<uint64_t>(layer), static_cast<uint64_t>(head)}).uniform());
  }
  return by_global_quantile(cost, static_cast<int>(found - request.model_layers.begin()), false,
                            request);
}

}  // namespace

HeadLayout select_head_layout(const HeadSelectionRequest& request) {
  switch (request.selection) {
    case HeadSelection::interleaved:
      return HeadLayout::with_streaming_fraction(request.num_kv_heads, request.streaming_fraction,
                                                 request.sink_tokens, request.local_tokens);
    case HeadSelection::trace: {
      if (request.trace_head_types == nullptr)
        throw std::invalid_argument(
            "head_selection trace needs the trace's head_types metadata, which it does not have");
      HeadLayout layout = HeadLayout::all_dense(request.num_kv_heads);
      layout.kv_head_kind = *request.trace_head_types;
      layout.sink_tokens = request.sink_tokens;
      layout.local_tokens = request.local_tokens;
      return layout;
    }
    case HeadSelection::random: return random_layout(request);
    case HeadSelection::calibrated:
    case HeadSelection::calibrated_inverted: return calibrated_layout(request);
  }
  throw std::invalid_argument("unknown head selection");
}

HeadLayout heads_that_run(const HeadLayout& heads, SparsityMode mode) {
  if (uses_streaming_heads(mode)) return heads;
  HeadLayout dense = HeadLayout::all_dense(static_cast<int>(heads.kv_head_kind.size()));
  dense.sink_tokens = heads.sink_tokens;
  dense.local_tokens = heads.local_tokens;
  return dense;
}

std::string head_layout_text(const HeadLayout& heads) {
  std::string text;
  for (HeadKind kind : heads.kv_head_kind) text += kind == HeadKind::streaming ? 's' : 'd';
  return text;
}

}  // namespace unisparse
