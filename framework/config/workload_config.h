#pragma once
// Workload files, configs/workloads/<name>.yaml: the knobs of the synthetic generator.
//   name: needle             # must match the file name
//   description: ...         # optional
//   knobs:                   # any GeneratorKnobs field (knobs.h); a missing knob keeps its default
//     needle_strength: 10.0
// A sweep refers to a workload by name, or to a captured trace by a mapping
//   {trace: path.safetensors, layer: 0}      (layer: an index or `all`; optional)
// whose relative path is looked up in the directory of the file that names it, then in the
// repository (or absolute).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "framework/config/point.h"
#include "framework/config/strict_yaml.h"

namespace unisparse {

// The workload of a sweep that names none (and of `unisparse attention-stats --model`).
inline constexpr std::string_view kDefaultWorkload = "fitted";

WorkloadSpec load_workload_file(const std::string& path);

// Resolves a workload reference: a name against <configs_dir>/workloads/, or a trace mapping whose
// relative path is taken from the first of search_dirs that holds it. The trace file must exist.
// A trace mapping's `layer` is handed back unread in *layer (it is the `layer` parameter).
WorkloadSpec load_workload(const LocatedNode& reference, const std::string& configs_dir,
                           const std::vector<std::string>& search_dirs,
                           std::optional<LocatedNode>* layer = nullptr);

// The generator-knob keys as they appear under `knobs:` ("needle_strength"); the parameter table
// holds them as "workload.<knob>".
const std::vector<std::string>& knob_keys();

}  // namespace unisparse
