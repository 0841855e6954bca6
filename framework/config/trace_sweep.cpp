#include "framework/config/trace_sweep.h"

#include <algorithm>

namespace unisparse {
namespace {

const Axis* find_axis(const std::vector<Axis>& axes, const std::string& key) {
  const auto found = std::find_if(axes.begin(), axes.end(),
                                  [&](const Axis& axis) { return axis.key == key; });
  return found == axes.end() ? nullptr : &*found;
}

// Every value a key takes in the sweep, as integers: the axis values, else the base value.
std::vector<int> values_of(const std::vector<Axis>& axes, const std::string& key, int base_value) {
  const Axis* axis = find_axis(axes, key);
  if (axis == nullptr) return {base_value};
  std::vector<int> values;
  for (const std::string& text : axis->values) values.push_back(std::stoi(text));
  return values;
}

const LocatedNode* site_of(const std::string& key, const SettingSites& fixed_sites,
                           const SettingSites& axis_sites) {
  if (const auto axis = axis_sites.find(key); axis != axis_sites.end()) return &axis->second;
  if (const auto fixed = fixed_sites.find(key); fixed != fixed_sites.end()) return &fixed->second;
  return nullptr;
}

std::string layers_text(const std::vector<int>& layers) {
  std::string text;
  for (int layer : layers) text += (text.empty() ? "" : ", ") + std::to_string(layer);
  return "[" + text + "]";
}

}  // namespace

void apply_trace_facts(const TraceHeader& header, PointConfig& base, const std::vector<Axis>& axes,
                       const SettingSites& fixed_sites, const SettingSites& axis_sites,
                       const LocatedNode& workload) {
  const std::string file = header.path;
  auto error_at = [&](const std::string& key, const std::string& message) {
    const LocatedNode* site = site_of(key, fixed_sites, axis_sites);
    return site != nullptr ? site->error(message) : workload.error(message);
  };

  // Layers: each one the trace holds; all of them agree in T and decode steps.
  const std::vector<int> layers = values_of(axes, "layer", base.workload.trace_layer);
  std::vector<TraceLayerInfo> infos;
  for (int layer : layers) {
    if (!std::binary_search(header.layers.begin(), header.layers.end(), layer))
      throw error_at("layer", "the trace " + file + " holds layers " + layers_text(header.layers) +
                                  ", not layer " + std::to_string(layer));
    PointConfig probe = base;  // the shapes only: head layouts are checked point by point
    probe.workload.trace_layer = layer;
    probe.head_selection = HeadSelection::interleaved;
    infos.push_back(inspect_trace_layer(header.path, layer, probe));
  }
  for (size_t i = 1; i < infos.size(); ++i)
    if (infos[i].context_len != infos[0].context_len ||
        infos[i].trace_decode_steps != infos[0].trace_decode_steps)
      throw error_at("layer", "layers " + std::to_string(layers[0]) + " and " +
                                  std::to_string(layers[i]) + " of " + file +
                                  " differ in prompt tokens or decode steps");
  const TraceLayerInfo& info = infos.front();

  std::vector<std::string> overrides;
  // A value the trace decides: explicit settings must agree (decode steps: must not exceed it),
  // a default that differs is replaced and recorded.
  auto take_over = [&](const std::string& key, int& field, int trace_value, bool at_most,
                       const std::string& what) {
    const LocatedNode* site = site_of(key, fixed_sites, axis_sites);
    if (site != nullptr) {
      for (int value : values_of(axes, key, field))
        if (at_most ? value > trace_value : value != trace_value)
          throw site->error(key + " " + std::to_string(value) + (at_most ? " exceeds " : " differs from ") +
                            what + " (" + std::to_string(trace_value) + ") of the trace " + file +
                            ": a trace workload takes " + key + " from the file" +
                            (at_most ? " (set it to at most that, or leave it out)" : " (leave it out)"));
      return;
    }
    if (at_most ? field > trace_value : field != trace_value) {
      overrides.push_back(key + ": " + std::to_string(field) + " -> " + std::to_string(trace_value));
      field = trace_value;
    }
  };
  take_over("context_len", base.context_len, info.context_len, false, "the prompt tokens");
  take_over("batch", base.batch, 1, false, "the one sequence");
  if (base.phase == Phase::decode)
    take_over("decode_steps", base.decode_steps, info.trace_decode_steps, true, "the decode steps");
  // Precision: q/k/v and the cache keep the trace's stored precision unless the sweep sets dtype or
  // kv_dtype (an explicit choice, recorded in its column); a default that would round is replaced.
  auto keep_stored = [&](const std::string& key, DType& field) {
    if (site_of(key, fixed_sites, axis_sites) != nullptr || field == info.stored_dtype) return;
    overrides.push_back(key + ": " + std::string(to_string(field)) + " -> " +
                        std::string(to_string(info.stored_dtype)));
    field = info.stored_dtype;
  };
  keep_stored("dtype", base.dtype);
  keep_stored("kv_dtype", base.kv_dtype);

  std::string joined;
  for (const std::string& text : overrides) joined += (joined.empty() ? "" : "; ") + text;
  base.workload.trace_overrides = joined;
}

}  // namespace unisparse
