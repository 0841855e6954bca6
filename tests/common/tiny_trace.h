#pragma once
// Small traces written from the generator for the tests of trace sweeps: the `tiny` model's shape
// (4 query / 2 KV heads, head dim 64), one generated layer per requested layer id.
#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "framework/config/point.h"
#include "framework/workload/generator.h"
#include "framework/workload/trace.h"

namespace unisparse::testing {

struct TinyTrace {
  std::vector<int> layers{0};
  int context_len = 300;
  int decode_steps = 6;
  double streaming_fraction = 0.5;  // the generator's planted layout (written as head_types)
  bool with_head_types = true;
  // Needles planted at these depths; with needle_metadata their token positions are written as
  // the needle_positions metadata (what a passkey capture records).
  std::vector<double> needle_depths{};
  bool needle_metadata = false;
  std::map<std::string, std::string> metadata{{"model", "tiny"}};
  DType dtype = DType::fp16;  // generated in and stored as this precision
};

inline PointConfig tiny_generator_point(const TinyTrace& spec, uint64_t seed) {
  PointConfig point;
  point.model = "tiny";
  point.shape = {4, 2, 64};
  point.context_len = spec.context_len;
  point.decode_steps = spec.decode_steps;
  point.phase = Phase::decode;
  point.streaming_fraction = spec.streaming_fraction;
  point.sink_tokens = 16;
  point.local_tokens = 32;
  point.seed = seed;
  point.dtype = spec.dtype;
  point.workload.knobs.needle_depths = spec.needle_depths;
  return point;
}

// Writes the trace (layer i generated with seed 100 + i) and returns its path.
inline std::string write_tiny_trace(const std::string& path, const TinyTrace& spec = {}) {
  std::vector<Workload> workloads;
  for (int layer : spec.layers)
    workloads.push_back(generate_workload(tiny_generator_point(spec, 100 + layer)));
  std::vector<std::pair<int, const Workload*>> layers;
  for (size_t i = 0; i < spec.layers.size(); ++i) layers.emplace_back(spec.layers[i], &workloads[i]);
  std::map<std::string, std::string> metadata = spec.metadata;
  if (spec.needle_metadata) {
    std::set<int32_t> needle;  // every token a decode query of any layer seeks
    for (const Workload& workload : workloads)
      for (const auto& step : workload.batch[0].needle_targets)
        for (const auto& tokens : step) needle.insert(tokens.begin(), tokens.end());
    std::string list;
    for (int32_t token : needle) list += (list.empty() ? "" : ", ") + std::to_string(token);
    metadata["needle_positions"] = "[" + list + "]";
    metadata["prompt_kind"] = "passkey";
  }
  write_trace(path, layers, spec.dtype, metadata, spec.with_head_types);
  return path;
}

}  // namespace unisparse::testing
